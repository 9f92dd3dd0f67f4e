"""A grammar of plans for the offered tools, to constrain decoding where a model allows.

`plan_grammar(tools)` builds the plan format as rules: optional ``Thought:`` lines,
numbered calls of the offered tools with their own argument names, values that are
literals (strings, numbers, booleans, null, lists, dicts) or refs (``$N``, ``${N}``),
then ``join()`` and the end marker. `Grammar.gbnf()` writes it for llama.cpp (the
embedded model, llama.cpp server) and vLLM's guided decoding; `Grammar.accepts(text)`
checks a text against the same rules in Python, so tests can show that the grammar
accepts what the parser accepts.

The grammar is a superset of the plans the parser accepts in the prompt's format (with
at most two spaces where spaces may go): it does not check required arguments, repeats
or refs (the parser does, and stays the authority); it only keeps the model from writing
what could never parse, such as a value after a keyword argument, or from running on
with spaces until its token limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

from toolweave.plan._parser import END_OF_PLAN

if TYPE_CHECKING:
    from toolweave.tools import Tool

__all__ = ["Grammar", "plan_grammar"]


@dataclass(frozen=True, slots=True)
class Lit:
    text: str


@dataclass(frozen=True, slots=True)
class Chars:
    """One character of a class, written as in both GBNF and Python regexes."""

    cls: str


@dataclass(frozen=True, slots=True)
class Rule:
    name: str


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Rep:
    item: Node
    least: int = 0
    most: int | None = None


Node: TypeAlias = Lit | Chars | Rule | Seq | Alt | Rep


def seq(*items: Node | str) -> Seq:
    return Seq(tuple(Lit(i) if isinstance(i, str) else i for i in items))


def alt(*items: Node | str) -> Alt:
    return Alt(tuple(Lit(i) if isinstance(i, str) else i for i in items))


def opt(item: Node | str) -> Rep:
    return Rep(Lit(item) if isinstance(item, str) else item, 0, 1)


def star(item: Node | str) -> Rep:
    return Rep(Lit(item) if isinstance(item, str) else item)


def plus(item: Node | str) -> Rep:
    return Rep(Lit(item) if isinstance(item, str) else item, 1)


class Grammar:
    """Named rules, the first of which (``root``) is the whole text.

    Args:
        rules: Rule name to its definition; ``root`` must be among them.
    """

    def __init__(self, rules: dict[str, Node]) -> None:
        if "root" not in rules:
            raise ValueError("a grammar needs a 'root' rule")
        self.rules = rules
        self._classes: dict[str, re.Pattern[str]] = {}

    def gbnf(self) -> str:
        """The grammar in llama.cpp's GBNF."""
        return "\n".join(f"{name} ::= {_gbnf(node)}" for name, node in self.rules.items()) + "\n"

    def accepts(self, text: str) -> bool:
        """Whether the whole of `text` is in the grammar's language."""
        memo: dict[tuple[str, int], frozenset[int]] = {}

        def rule(name: str, pos: int) -> frozenset[int]:
            key = (name, pos)
            if key not in memo:
                memo[key] = frozenset()  # no left recursion in plan grammars
                memo[key] = frozenset(match(self.rules[name], pos))
            return memo[key]

        def match(node: Node, pos: int) -> set[int]:
            if isinstance(node, Lit):
                return {pos + len(node.text)} if text.startswith(node.text, pos) else set()
            if isinstance(node, Chars):
                ok = pos < len(text) and self._char(node.cls).fullmatch(text[pos])
                return {pos + 1} if ok else set()
            if isinstance(node, Rule):
                return set(rule(node.name, pos))
            if isinstance(node, Seq):
                ends = {pos}
                for item in node.items:
                    ends = {e for p in ends for e in match(item, p)}
                    if not ends:
                        break
                return ends
            if isinstance(node, Alt):
                return {e for item in node.items for e in match(item, pos)}
            out = {pos} if node.least == 0 else set()
            frontier, seen, count = {pos}, {pos}, 0
            while frontier and (node.most is None or count < node.most):
                count += 1
                reached = {e for p in frontier for e in match(node.item, p)}
                if count >= node.least:
                    out |= reached
                frontier = reached - seen if node.most is None else reached
                seen |= reached
            return out

        return len(text) in rule("root", 0)

    def _char(self, cls: str) -> re.Pattern[str]:
        pattern = self._classes.get(cls)
        if pattern is None:
            pattern = self._classes[cls] = re.compile(cls)
        return pattern


def _gbnf(node: Node) -> str:
    if isinstance(node, Lit):
        return _quote(node.text)
    if isinstance(node, Chars):
        return node.cls
    if isinstance(node, Rule):
        return node.name
    if isinstance(node, Seq):
        return " ".join(_group(i) for i in node.items) or '""'
    if isinstance(node, Alt):
        return " | ".join(_gbnf(i) for i in node.items)
    inner = _group(node.item)
    if (node.least, node.most) == (0, None):
        return f"{inner}*"
    if (node.least, node.most) == (1, None):
        return f"{inner}+"
    if (node.least, node.most) == (0, 1):
        return f"{inner}?"
    most = "" if node.most is None else str(node.most)
    return f"{inner}{{{node.least},{most}}}"


def _group(node: Node) -> str:
    text = _gbnf(node)
    return f"({text})" if isinstance(node, Seq | Alt) and len(node.items) > 1 else text


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", text).strip("-").lower() or "x"


_WS = Rule("ws")
_DIGIT = Chars("[0-9]")


def _common() -> dict[str, Node]:
    """The rules every plan grammar shares: values, strings, numbers, refs."""
    digits = plus(_DIGIT)
    sep = seq(_WS, ",", _WS)
    return {
        "ws": Rep(Chars("[ ]"), 0, 2),  # bounded: a small model can loop on spaces
        "value": alt(
            Rule("string"),
            Rule("number"),
            Rule("ref"),
            Rule("list"),
            Rule("tuple"),
            Rule("dict"),
            "true",
            "false",
            "null",
            "True",
            "False",
            "None",
        ),
        "string": alt(
            seq('"', star(alt(Chars('[^"\\\\\\n]'), seq("\\", Chars("[^\\n]")))), '"'),
            seq("'", star(alt(Chars("[^'\\\\\\n]"), seq("\\", Chars("[^\\n]")))), "'"),
        ),
        "number": seq(
            opt(alt("-", "+")),
            digits,
            opt(seq(".", star(_DIGIT))),
            opt(seq(Chars("[eE]"), opt(Chars("[-+]")), digits)),
        ),
        "ref": alt(seq("$", digits), seq("${", digits, "}")),
        "items": seq(Rule("value"), star(seq(sep, Rule("value"))), opt(seq(_WS, ","))),
        "list": seq("[", _WS, opt(Rule("items")), _WS, "]"),
        "tuple": seq("(", _WS, opt(Rule("items")), _WS, ")"),
        "pair": seq(Rule("string"), _WS, ":", _WS, Rule("value")),
        "dict": seq("{", _WS, opt(seq(Rule("pair"), star(seq(sep, Rule("pair"))))), _WS, "}"),
    }


def plan_grammar(tools: Iterable[Tool]) -> Grammar:
    """The plan format for these tools: calls of these tools only, with their arguments.

    Raises:
        ValueError: `tools` is empty.
    """
    tools = list(tools)
    if not tools:
        raise ValueError("a plan grammar needs at least one tool")
    return _cached(tuple((t.name, tuple(t.parameter_names)) for t in tools))


def _upto(node: Node, most: int) -> list[Node]:
    """`node` repeated at most `most` times, as a list to splice into a sequence."""
    return [Rep(node, 0, most)] if most > 0 else []


@lru_cache(maxsize=64)
def _cached(signatures: Sequence[tuple[str, tuple[str, ...]]]) -> Grammar:
    rules: dict[str, Node] = {}
    calls: list[Node] = []
    for index, (tool, params) in enumerate(signatures):
        rule = f"call-{index}-{_name(tool)}"
        sep = seq(_WS, ",", _WS)
        if params:  # positional values, then keywords: no more of either than it has
            keyword = seq(alt(*params), _WS, "=", _WS, Rule("value"))
            more = len(params) - 1
            args: Node = alt(
                seq(
                    Rule("value"),
                    *_upto(seq(sep, Rule("value")), more),
                    *_upto(seq(sep, keyword), more),
                ),
                seq(keyword, *_upto(seq(sep, keyword), more)),
            )
        else:
            args = seq(Rule("value"), star(seq(sep, Rule("value"))))
        args = seq(args, opt(seq(_WS, ",")))
        rules[rule] = seq(tool, _WS, "(", _WS, opt(args), _WS, ")")
        calls.append(Rule(rule))
    line = alt(
        seq("Thought:", star(Chars("[^\\n]")), "\n"),
        seq(plus(_DIGIT), ".", _WS, Rule("call"), _WS, "\n"),
        "\n",
    )
    root = seq(star(line), "join()", opt(seq("\n", opt(END_OF_PLAN))))
    return Grammar({"root": root, "call": Alt(tuple(calls)), **rules, **_common()})
