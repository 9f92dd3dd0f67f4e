"""Grammar rules as data: literals, character classes, sequences, choices, repeats.

`Grammar` holds named rules and does two things with them: `gbnf()` writes them in
llama.cpp's GBNF, and `accepts(text)` checks a text against the same rules in Python
(a memoised matcher, for tests and for checking what a model wrote). `plan_grammar`
(in `_grammar`) builds the plan format from these pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "Alt",
    "Chars",
    "Grammar",
    "Lit",
    "Node",
    "Rep",
    "Rule",
    "Seq",
    "alt",
    "opt",
    "plus",
    "seq",
    "star",
]


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
