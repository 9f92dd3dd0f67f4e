"""The plan grammar: it accepts every plan the parser accepts in the prompt's format."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolweave import Tool, ToolRegistry, tool
from toolweave.models.testing import ScriptedModel
from toolweave.plan import END_OF_PLAN, PlanError, PlanParser, parse_plan, plan_grammar
from toolweave.planner import Planner


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country."""
    return 1


@tool(read_only=True)
def search(query: str, limit: int = 5, filters: dict[str, str] | None = None) -> str:
    """Search."""
    return query


@tool(read_only=True)
def combine(values: list[float], weights: list[float] | None = None, exact: bool = False) -> float:
    """Combine numbers."""
    return 0.0


@tool(read_only=True)
def convert(amount: float, unit: str, precise: bool = False, to: str = "km", *, note: str) -> str:
    """Convert an amount (three of its arguments are required: amount, unit, note)."""
    return unit


# an API's parameters named like Python keywords (`from=`, `class=`): a plan names them
exchange = Tool.from_schema(
    "exchange",
    "Convert an amount between currencies.",
    {
        "type": "object",
        "properties": {
            "from": {"type": "string"},
            "to": {"type": "string"},
            "class": {"type": "string"},
        },
        "required": ["from", "to"],
    },
    read_only=True,
)

TOOLS = ToolRegistry([population, search, combine, convert, exchange])
GRAMMAR = plan_grammar(TOOLS)

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_ref = st.tuples(st.integers(0, 99), st.booleans())  # (which earlier task, ${N} form)
_values = st.recursive(
    st.one_of(
        _text,
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        _ref,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=2),
    max_leaves=5,
)


def _render(value: object, refs: list[int]) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):  # a ref to an earlier task, or a number if none
        if not refs:
            return str(value[0])
        target = refs[value[0] % len(refs)]
        return f"${{{target}}}" if value[1] else f"${target}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v, refs) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)}: {_render(v, refs)}" for k, v in value.items()) + "}"


@st.composite
def plans(draw: st.DrawFn, first_id: int | None = None) -> str:
    """Plans of the prompt's format; with `first_id`, numbered from it one by one."""
    lines: list[str] = []
    ids: list[int] = [] if first_id is None else list(range(1, first_id))
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            thought = draw(_text.filter(lambda t: "\n" not in t and END_OF_PLAN not in t))
            lines.append(f"Thought: {thought}")
        one = draw(st.sampled_from(list(TOOLS)))
        names = draw(st.lists(st.sampled_from(one.parameter_names), unique=True))
        names = sorted(set(names) | set(one.required_names))
        positional = draw(st.integers(0, len(names))) if draw(st.booleans()) else 0
        params = list(one.parameter_names)
        ordered = [n for n in params if n in names]
        placed = 0  # the leading names given by position; the keywords in any order
        while placed < min(positional, len(ordered)) and ordered[placed] == params[placed]:
            placed += 1
        ordered = ordered[:placed] + draw(st.permutations(ordered[placed:]))
        args = []
        for i, name in enumerate(ordered):
            value = _render(draw(_values), ids)
            args.append(value if i < placed else f"{name}={value}")
        step = 1 if first_id is not None else draw(st.integers(1, 3))
        task_id = (ids[-1] if ids else 0) + step
        ids.append(task_id)
        lines.append(f"{task_id}. {one.name}({', '.join(args)})")
    lines.append("join()")
    end = draw(st.sampled_from(["", "\n", f"\n{END_OF_PLAN}"]))
    return "\n".join(lines) + end


@pytest.mark.slow  # hypothesis: 100 plans through grammar and parser
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_grammar_accepts_every_plan_the_parser_accepts(text: str) -> None:
    items = parse_plan(text, TOOLS)
    if any(isinstance(item, PlanError) for item in items):
        return  # the parser rejected a line (e.g. a repeated call): nothing to show
    assert GRAMMAR.accepts(text), text


@pytest.mark.slow  # hypothesis: 100 plans through grammar and parser
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4).flatmap(lambda first: st.tuples(st.just(first), plans(first))))
def test_numbered_grammar_accepts_every_plan_the_parser_accepts_numbered_in_order(
    numbered: tuple[int, str],
) -> None:
    first_id, text = numbered
    parser = PlanParser(TOOLS, known_ids=range(1, first_id))
    if any(isinstance(item, PlanError) for item in parser.feed(text) + parser.close()):
        return
    assert plan_grammar(TOOLS, first_id=first_id).accepts(text), text


def test_numbered_grammar_rejects_what_the_parser_would_reject() -> None:
    grammar = plan_grammar(TOOLS, first_id=1)
    one = 'population(country="France")'
    assert grammar.accepts(f'1. {one}\n2. search(query="$1 and ${{1}}, $ 5")\njoin()')
    assert grammar.accepts(f"Thought: t\n1. {one}\n\nThought: u\n2. combine([$1, 2])\njoin()")
    # a thought ends within 400 characters: a small model can repeat one to its limit
    assert grammar.accepts(f"Thought:{'x' * 400}\n1. {one}\njoin()")
    assert not grammar.accepts(f"Thought:{'x' * 401}\n1. {one}\njoin()")
    assert not grammar.accepts(f"1. {one}\n1. {one}\njoin()")  # an id taken
    assert not grammar.accepts(f"1. {one}\n3. {one}\njoin()")  # out of order
    assert not grammar.accepts(f"2. {one}\njoin()")
    assert not grammar.accepts("1. combine([$1])\njoin()")  # itself
    assert not grammar.accepts(f'1. {one}\n2. search(query="$3 + $1")\njoin()')  # forward
    assert not grammar.accepts(f'1. {one}\n2. search(query="${{2}}")\njoin()')
    assert not grammar.accepts(f'1. {one}\n2. search(query="$12")\njoin()')  # not $1
    # a replan: numbered from 4, refs to 1 and 3 (task 2 failed), not to 2
    replan = plan_grammar(TOOLS, first_id=4, known_ids=[1, 3])
    assert replan.accepts('4. search(query="$1 $3")\n5. combine([$4, $1])\njoin()')
    assert not replan.accepts('4. search(query="$2")\njoin()')
    assert not replan.accepts("4. combine([$2])\njoin()")
    assert not replan.accepts(f"1. {one}\njoin()")  # restarting at 1


def test_numbered_grammar_leaves_lines_past_its_count_free() -> None:
    from toolweave.plan._grammar import NUMBERED_LINES

    lines = [f'{i}. search(query="q {i - 1} ${i - 1}")' for i in range(2, NUMBERED_LINES + 2)]
    text = "\n".join(['1. search(query="q")', *lines, "join()"])
    assert plan_grammar(TOOLS, first_id=1).accepts(text)
    assert not plan_grammar(TOOLS, first_id=1).accepts(text.replace('$1"', '$99"'))
    late = f'{NUMBERED_LINES + 7}. search(query="$99")'
    assert plan_grammar(TOOLS, first_id=1).accepts(text.replace("join()", f"{late}\njoin()"))


def test_grammar_rejects_what_cannot_parse() -> None:
    assert GRAMMAR.accepts('1. population(country="France")\njoin()')
    assert not GRAMMAR.accepts('1. populaton(country="France")\njoin()')  # unknown tool
    assert not GRAMMAR.accepts('1. population(nation="France")\njoin()')  # unknown argument
    assert not GRAMMAR.accepts("1. population(country=France)\njoin()")  # a bare name
    assert not GRAMMAR.accepts('1. population(country=f"{x}")\njoin()')
    assert not GRAMMAR.accepts('1. population(country="France")\n')  # no join()
    # seen on the local model: values after a keyword argument, then spaces to the limit
    assert GRAMMAR.accepts('2. search("a", 3, filters={})\njoin()')
    assert not GRAMMAR.accepts('2. search(query="a", $1, "b")\njoin()')
    assert not GRAMMAR.accepts('1. population("France", "Spain")\njoin()')  # one argument
    assert not GRAMMAR.accepts('1. population(country="France")' + " " * 40 + "\njoin()")


def test_gbnf_names_every_tool_and_argument() -> None:
    gbnf = GRAMMAR.gbnf()
    assert gbnf.startswith("root ::= ")
    for one in TOOLS:
        assert f'"{one.name}"' in gbnf
        for name in one.parameter_names:
            assert f'"{name}"' in gbnf


async def test_planner_sends_the_grammar_of_the_offered_tools() -> None:
    model = ScriptedModel(['1. population(country="France")\njoin()\n'])
    draft = Planner(model).plan("q", [population])
    assert len([item async for item in draft]) == 1
    assert [s.grammar for s in model.settings] == [plan_grammar([population], first_id=1).gbnf()]


async def test_a_replans_grammar_numbers_on_and_refers_only_to_tasks_with_values() -> None:
    model = ScriptedModel(['4. search(query="$3")\njoin()\n'])
    draft = Planner(model).plan("q", TOOLS, known_ids=[1, 2, 3], unavailable={2: "it failed"})
    assert len([item async for item in draft]) == 1
    assert [s.grammar for s in model.settings] == [
        plan_grammar(TOOLS, first_id=4, known_ids=[1, 3]).gbnf()
    ]


def test_a_keyword_call_must_name_every_required_argument() -> None:
    grammar = plan_grammar(TOOLS, first_id=1)
    for call in [
        'convert(amount=1, unit="mi", note="")',
        'convert(note="", to="m", unit="mi", precise=true, amount=1)',
        'convert(1, "mi", note="x")',
        'search(limit=3, query="q")',
    ]:
        assert grammar.accepts(f"1. {call}\njoin()"), call
        assert parse_plan(f"1. {call}\njoin()", TOOLS)[0].tool in {"convert", "search"}
    for call in [
        'convert(amount=1, unit="mi")',  # note is required
        'convert(to="m", note="", amount=1)',
        "convert()",
        "search(limit=3)",
        "population()",
    ]:
        assert not grammar.accepts(f"1. {call}\njoin()"), call
        assert isinstance(parse_plan(f"1. {call}\njoin()", TOOLS)[0], PlanError), call


def test_a_schema_that_requires_an_unknown_argument_still_makes_a_grammar() -> None:
    def odd(**kwargs: object) -> str:
        return "x"

    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]}
    grammar = plan_grammar([Tool.from_schema("odd", "Odd.", schema, odd)], first_id=1)
    assert grammar.accepts('1. odd(a="x")\njoin()')
    assert not grammar.accepts("1. odd()\njoin()")  # a is still required
    assert "odd" in grammar.gbnf()


def test_arguments_named_like_python_keywords_are_in_the_grammar() -> None:
    text = '1. exchange(from="USD", to="EUR")\n2. exchange(to="GBP", class="spot", from=$1)\njoin()'
    assert all(not isinstance(item, PlanError) for item in parse_plan(text, TOOLS))
    assert GRAMMAR.accepts(text)
    assert not GRAMMAR.accepts('1. exchange(to="EUR")\njoin()')  # `from` is required
