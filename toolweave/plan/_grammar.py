"""A grammar of plans for the offered tools, to constrain decoding where a model allows.

`plan_grammar(tools)` builds the plan format as rules: optional ``Thought:`` lines,
numbered calls of the offered tools with their own argument names, values that are
literals (strings, numbers, booleans, null, lists, dicts) or refs (``$N``, ``${N}``),
then ``join()`` and the end marker. `Grammar.gbnf()` writes it for llama.cpp (the
embedded model, llama.cpp server) and vLLM's guided decoding; `Grammar.accepts(text)`
checks a text against the same rules in Python, so tests can show that the grammar
accepts what the parser accepts.

The grammar is a superset of the plans the parser accepts in the prompt's format (with
at most two spaces where spaces may go, and thoughts of at most 400 characters): it
does not check repeats, nor required arguments given partly by position (the parser
does, and stays the authority); it keeps the model from writing what could never
parse, such as a value after a keyword argument, a call with keywords that leaves out
a required one, or from running on with spaces or a thought until its token limit.
`plan_grammar(tools, first_id=N)` (the planner's) also numbers the calls from N one
after another and lets each refer only to the known tasks and the calls before it, so
it accepts the parser's plans that are numbered in order: the ids and refs a small
model gets wrong (its own id, a later one, an id already taken, a failed task) cannot
be written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

from toolweave.errors import UserError
from toolweave.plan._parser import END_OF_PLAN
from toolweave.plan._rules import (
    Alt,
    Chars,
    Grammar,
    Lit,
    Node,
    Rep,
    Rule,
    alt,
    opt,
    plus,
    seq,
    star,
)

if TYPE_CHECKING:
    from toolweave.plan._tool_like import ToolLike

__all__ = ["Grammar", "plan_grammar"]


def _name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", text).strip("-").lower() or "x"


_WS = Rule("ws")
_DIGIT = Chars("[0-9]")
_ESCAPE = seq("\\", Chars("[^\\n]"))
NUMBERED_LINES = 16
"""How many lines a numbered plan grammar numbers and checks; later lines are free."""


def _shared() -> dict[str, Node]:
    """The rules every plan grammar shares: spaces, numbers, Thought and blank lines."""
    digits = plus(_DIGIT)
    return {
        "ws": Rep(Chars("[ ]"), 0, 2),  # bounded: a small model can loop on spaces
        "number": seq(
            opt(alt("-", "+")),
            digits,
            opt(seq(".", star(_DIGIT))),
            opt(seq(Chars("[eE]"), opt(Chars("[-+]")), digits)),
        ),
        # a thought is cut at 400 characters, as the joiner's is: a small model can
        # repeat one sentence to its token limit (a ShortcutsBench replan, 1,024 tokens)
        "filler": alt(seq("Thought:", Rep(Chars("[^\\n]"), 0, 400), "\n"), "\n"),
    }


def _values(suffix: str, refs: Sequence[int] | None, fields: bool = False) -> dict[str, Node]:
    """The value rules, named with `suffix`; refs (``$N`` and in strings) only to `refs`.

    `refs=None` lets a ref name any id. Otherwise a string's ``$N`` is checked too: in
    the parser's terms (``$`` then up to nine digits, or ``${N}``) it must name one of
    `refs`; a ``$`` followed by anything else is a plain character. With `fields`, a
    ref as a value may name one of the ``field`` rule's names (``$1.price``) and index
    a list (``$1.items[0]``); in a string, such a path is text to the grammar.
    """
    path = [opt(Rule("path"))] if fields else []
    v, sep = Rule(f"value{suffix}"), seq(_WS, ",", _WS)
    ids = None if refs is None else [Lit(str(i)) for i in sorted(set(refs))]
    ref = [] if ids == [] else [Rule(f"ref{suffix}")]  # nothing to refer to: no ref
    rules: dict[str, Node] = {
        f"value{suffix}": alt(
            Rule(f"string{suffix}"),
            Rule("number"),
            *ref,
            Rule(f"list{suffix}"),
            Rule(f"tuple{suffix}"),
            Rule(f"dict{suffix}"),
            "true",
            "false",
            "null",
            "True",
            "False",
            "None",
        ),
        f"items{suffix}": seq(v, star(seq(sep, v)), opt(seq(_WS, ","))),
        f"list{suffix}": seq("[", _WS, opt(Rule(f"items{suffix}")), _WS, "]"),
        f"tuple{suffix}": seq("(", _WS, opt(Rule(f"items{suffix}")), _WS, ")"),
        f"pair{suffix}": seq(Rule("string"), _WS, ":", _WS, v),  # a key holds no ref
        f"dict{suffix}": seq(
            "{",
            _WS,
            opt(seq(Rule(f"pair{suffix}"), star(seq(sep, Rule(f"pair{suffix}"))))),
            _WS,
            "}",
        ),
    }
    if ids is None:
        digits = plus(_DIGIT)
        rules[f"ref{suffix}"] = seq(alt(seq("$", digits), seq("${", digits, "}")), *path)
        rules[f"string{suffix}"] = alt(
            seq('"', star(alt(Chars('[^"\\\\\\n]'), _ESCAPE)), '"'),
            seq("'", star(alt(Chars("[^'\\\\\\n]"), _ESCAPE)), "'"),
        )
        return rules
    if ids:
        rules[f"id{suffix}"] = Alt(tuple(ids))
        rules[f"ref{suffix}"] = seq(
            alt(seq("$", Rule(f"id{suffix}")), seq("${", Rule(f"id{suffix}"), "}")), *path
        )
    rules[f"string{suffix}"] = alt(Rule(f"dq{suffix}-0"), Rule(f"sq{suffix}-0"))
    for quote, name in (('"', f"dq{suffix}"), ("'", f"sq{suffix}")):
        rules.update(_string_states(quote, name, Rule(f"id{suffix}") if ids else None))
    return rules


def _string_states(quote: str, name: str, ref_id: Node | None) -> dict[str, Node]:
    """A quoted string whose ``$N`` refs name `ref_id` only, as a small automaton.

    States: ``-0`` opens the string; ``-1`` is inside it; ``-2`` follows a ``$``;
    ``-3`` follows a complete ``$N`` (no digit may follow); ``-4`` follows ``${``;
    ``-5`` follows ``${`` and digits that are not a ref (no ``}`` may follow).
    """
    q = quote.replace("\\", "\\\\")
    inside, dollar, after = Rule(f"{name}-1"), Rule(f"{name}-2"), Rule(f"{name}-3")
    brace, loose = Rule(f"{name}-4"), Rule(f"{name}-5")

    def then(cls: str, state: Node) -> Node:  # a plain character not in `cls`, then `state`
        return seq(Chars(f"[^{q}\\\\\\n$" + cls + "]"), state)

    # in every state: the string ends, an escape, or another '$'
    common: list[Node | str] = [quote, seq(_ESCAPE, inside), seq("$", dollar)]
    ref = [] if ref_id is None else [seq(ref_id, after)]
    braced = [] if ref_id is None else [seq(ref_id, "}", inside)]
    rules: dict[str, Node] = {
        f"{name}-0": seq(quote, inside),
        f"{name}-1": seq(
            star(alt(Chars(f"[^{q}\\\\\\n$]"), _ESCAPE)), alt(quote, seq("$", dollar))
        ),
        f"{name}-2": alt(*common, seq("{", brace), then("0-9{", inside), *ref),
        f"{name}-3": alt(*common, then("0-9", inside)),
        f"{name}-4": alt(*common, seq(plus(_DIGIT), loose), then("0-9", inside), *braced),
        f"{name}-5": alt(*common, then("0-9}", inside)),
    }
    return rules


def plan_grammar(
    tools: Iterable[ToolLike],
    *,
    first_id: int | None = None,
    known_ids: Iterable[int] | None = None,
) -> Grammar:
    """The plan format for these tools: calls of these tools only, with their arguments.

    A ref may name one field of a result where an offered tool declares its result's
    fields (`Tool.output_fields`): ``$1.price``.

    With `first_id`, the calls are numbered from it one after another, and each may
    refer (as a value or inside a string) only to `known_ids` (by default every id
    below `first_id`) and to the calls before it: the model cannot write a forward
    ref, a ref to itself or to a failed task left out of `known_ids`, or take an id
    that is taken. The first `NUMBERED_LINES` calls are checked so; later ones are free.
    Without `first_id`, any numbering and any ref is allowed.

    Raises:
        UserError: `tools` is empty, or `first_id` is below 1.
    """
    tools = list(tools)
    if not tools:
        raise UserError("a plan grammar needs at least one tool")
    if first_id is not None and first_id < 1:
        raise UserError("first_id must be 1 or more")
    signatures = tuple(
        (t.name, tuple(t.parameter_names), frozenset(t.required_names)) for t in tools
    )
    fields = tuple(sorted({f for t in tools for f in t.output_fields if f.isidentifier()}))
    if first_id is None:
        return _cached(signatures, None, (), fields)
    known = tuple(sorted(set(range(1, first_id) if known_ids is None else known_ids)))
    return _cached(signatures, first_id, known, fields)


def _upto(node: Node, most: int) -> list[Node]:
    """`node` repeated at most `most` times, as a list to splice into a sequence."""
    return [Rep(node, 0, most)] if most > 0 else []


Signature: TypeAlias = tuple[str, tuple[str, ...], frozenset[str]]
"""A tool's name, its parameters in order, and the required ones."""

MAX_REQUIRED = 4
"""Required arguments of a tool up to which a grammar's keyword calls must name them all."""


def _calls(signatures: Sequence[Signature], suffix: str) -> dict[str, Node]:
    """``call{suffix}``: a call of one of the tools, its values from ``value{suffix}``.

    Positional values come first, then keywords, no more of either than the tool
    has. A call written with keywords alone names every required argument, in any
    order (for tools with up to `MAX_REQUIRED` of them): a rule per set of required
    arguments named so far, with at most as many optional ones between them as the
    tool has.
    """
    rules: dict[str, Node] = {}
    calls: list[Node] = []
    value, sep = Rule(f"value{suffix}"), seq(_WS, ",", _WS)
    for index, (tool, params, required) in enumerate(signatures):
        rule = f"call{suffix}-{index}-{_name(tool)}"
        if params:
            keyword = seq(alt(*params), _WS, "=", _WS, value)
            more = len(params) - 1
            keywords: Node = seq(keyword, *_upto(seq(sep, keyword), more))
            needed = [p for p in params if p in required]  # a schema may list others
            if needed and len(needed) <= MAX_REQUIRED:
                keywords = _naming(rules, f"{rule}-kw", params, frozenset(needed), value)
            args: Node = alt(
                seq(value, *_upto(seq(sep, value), more), *_upto(seq(sep, keyword), more)),
                keywords,
            )
        else:
            args = seq(value, star(seq(sep, value)))
        args = seq(args, opt(seq(_WS, ",")))
        inner = args if required.intersection(params) else opt(args)
        rules[rule] = seq(tool, _WS, "(", _WS, inner, _WS, ")")
        calls.append(Rule(rule))
    return {f"call{suffix}": Alt(tuple(calls)), **rules}


def _naming(
    rules: dict[str, Node],
    prefix: str,
    params: Sequence[str],
    required: frozenset[str],
    value: Node,
) -> Node:
    """Keyword arguments that name every one of `required`, in any order.

    Adds a rule to `rules` for each set of required arguments already named (as a
    bit mask over them) and returns the first; optional arguments may come between
    and after them, at most as many in each gap as there are.
    """
    needed = [p for p in params if p in required]
    optional = [p for p in params if p not in required]
    sep, full = seq(_WS, ",", _WS), (1 << len(needed)) - 1

    def kw(*names: str) -> Node:
        return seq(alt(*names), _WS, "=", _WS, value)

    leading = _upto(seq(kw(*optional), sep), len(optional)) if optional else []
    trailing = _upto(seq(sep, kw(*optional)), len(optional)) if optional else []
    for mask in range(full):
        choices: list[Node] = []
        for bit, name in enumerate(needed):
            if mask & (1 << bit):
                continue
            named = mask | (1 << bit)
            rest = trailing if named == full else [sep, Rule(f"{prefix}-{named}")]
            choices.append(seq(kw(name), *rest))
        rules[f"{prefix}-{mask}"] = seq(*leading, Alt(tuple(choices)))
    return Rule(f"{prefix}-0")


@lru_cache(maxsize=64)
def _cached(
    signatures: Sequence[Signature],
    first_id: int | None,
    known: tuple[int, ...],
    fields: tuple[str, ...] = (),
) -> Grammar:
    end = seq("join()", opt(seq("\n", opt(END_OF_PLAN))))
    free = seq(plus(_DIGIT), ".", _WS, Rule("call"), _WS, "\n")
    rules: dict[str, Node] = {}
    if fields:  # a ref may pick a field that an offered tool's result declares
        step = alt(seq(".", Rule("field")), seq("[", plus(_DIGIT), "]"))
        rules["path"] = Rep(step, 1, 3)
        rules["field"] = Alt(tuple(Lit(f) for f in fields))
    if first_id is None:
        root = seq(star(alt(Rule("filler"), free)), end)
    else:
        root = seq(star(Rule("filler")), opt(Rule(f"line-{first_id}")), end)
        last = first_id + NUMBERED_LINES - 1
        for k in range(first_id, last + 1):
            suffix = f"-{k}"
            rules.update(_values(suffix, [*known, *range(first_id, k)], bool(fields)))
            rules.update(_calls(signatures, suffix))
            rest: Node = Rule(f"line-{k + 1}") if k < last else star(alt(Rule("filler"), free))
            rules[f"line-{k}"] = seq(
                f"{k}.", _WS, Rule(f"call{suffix}"), _WS, "\n", star(Rule("filler")), opt(rest)
            )
    return Grammar(
        {
            "root": root,
            **_calls(signatures, ""),
            **_values("", None, bool(fields)),
            **_shared(),
            **rules,
        }
    )
