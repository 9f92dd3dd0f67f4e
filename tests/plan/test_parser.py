from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.helpers import make_registry

from toolweave import PlanError, PlanParser, PlanTask, Ref, ToolRegistry
from toolweave.plan import Template, parse_plan

PLAN = """Thought: the two populations are independent lookups.
1. population(country="France")
2. population("Germany")
Thought: then add them.
3. add(a=$1, b=${2})
4. echo(text="France has $1 people, Germany ${2}; total $3")
5. echo('a "quoted" $12-free text')
6. add(-1.5, +2)
7. echo(text=f"no")
join()
<END_OF_PLAN>
8. echo("never read")
"""


def items(text: str, registry: ToolRegistry) -> list[PlanTask | PlanError]:
    return parse_plan(text, registry)


def test_tasks_and_refs(registry: ToolRegistry) -> None:
    out = items(PLAN, registry)
    tasks = [i for i in out if isinstance(i, PlanTask)]
    assert [t.id for t in tasks] == [1, 2, 3, 4, 6]
    t1, t2, t3, t4, t6 = tasks
    assert t1.args == {"country": "France"}
    assert t1.thought == "the two populations are independent lookups."
    assert t2.args == {"country": "Germany"}  # positional, bound by the signature
    assert t2.thought is None
    assert t3.args == {"a": Ref(1), "b": Ref(2)}
    assert t3.deps == {1, 2}
    assert t3.thought == "then add them."
    assert t4.args["text"] == Template(
        ("France has ", Ref(1), " people, Germany ", Ref(2), "; total ", Ref(3))
    )
    assert t4.deps == {1, 2, 3}
    assert t6.args == {"a": -1.5, "b": 2}


def test_bad_lines_are_values_not_crashes(registry: ToolRegistry) -> None:
    out = items(PLAN, registry)
    errors = [i for i in out if isinstance(i, PlanError)]
    # line 5 refers to $12, which does not exist; line 7 is an f-string
    assert [(e.task_id, e.line[:2]) for e in errors] == [(5, "5."), (7, "7.")]
    assert "$12" in errors[0].reason
    assert "f-string" in errors[1].reason


def test_every_kind_of_bad_line(registry: ToolRegistry) -> None:
    text = "\n".join(
        [
            "1. population(country=",  # unparseable
            "2. nosuch(x=1)",  # unknown tool
            "3. echo(text=$4)",  # ref to a later task
            "4. echo(text=$99)",  # ref to a task that does not exist
            "5. echo(text='ok')",
            "5. echo(text='again')",  # duplicate id
            "6. echo(text=__import__('os').system('x'))",  # never evaluated
            "7. echo(text=open)",  # bare name
            "8. echo(text='x', text='y')",  # repeated keyword
            "9. echo(txt='x')",  # unknown argument
            "10. add()",  # missing required argument
            "11. add(1, 2, 3)",  # too many positionals
            "12. echo(text=$12)",  # self reference
            "13. echo(**{'text': 'x'})",
            "14. echo(text={1: 'x'})",  # non-string key
            "15. echo(text=b'x')",
            "join()",
            "16. echo(text='late')",  # after join
        ]
    )
    out = items(text, registry)
    ok = [i for i in out if isinstance(i, PlanTask)]
    bad = [i for i in out if isinstance(i, PlanError)]
    assert [t.id for t in ok] == [5]
    assert len(bad) == 16
    reasons = [e.reason for e in bad]
    assert "not a valid call" in reasons[0]
    assert "unknown tool 'nosuch'" in reasons[1]
    assert "does not exist yet" in reasons[2]
    assert "does not exist yet" in reasons[3]
    assert "already taken" in reasons[4]
    assert bad[4].task_id is None  # the first task 5 stands
    assert "not allowed" in reasons[5]
    assert "bare name 'open'" in reasons[6]
    assert "given twice" in reasons[7] or "not a valid call" in reasons[7]
    assert "no argument 'txt'" in reasons[8]
    assert "missing required argument(s) a" in reasons[9]
    assert "takes 2 arguments" in reasons[10]
    assert "refers to itself" in reasons[11]
    assert "**kwargs" in reasons[12]
    assert "plain strings" in reasons[13]
    assert "bytes" in reasons[14]
    assert "after join()" in reasons[15]
    assert all(e.line for e in bad)


def test_refs_to_a_rejected_line_still_parse(registry: ToolRegistry) -> None:
    out = items("1. nosuch()\n2. echo(text=$1)\n", registry)
    assert isinstance(out[0], PlanError)
    assert out[0].task_id == 1
    assert isinstance(out[1], PlanTask)
    assert out[1].deps == {1}


def test_known_ids_on_replan(registry: ToolRegistry) -> None:
    parser = PlanParser(registry, known_ids=[1, 2])
    out = parser.feed("1. echo(text='x')\n3. add(a=$1, b=$2)\n") + parser.close()
    assert isinstance(out[0], PlanError)
    assert "already taken" in out[0].reason
    assert isinstance(out[1], PlanTask)
    assert out[1].deps == {1, 2}


def test_json_literals_and_containers(registry: ToolRegistry) -> None:
    (task,) = items('1. echo(text=[true, null, {"k": [1, -2, $0]}])\n', registry)
    assert isinstance(task, PlanError)  # $0 does not exist
    (task,) = items('1. echo(text=[true, null, {"k": (1, -2)}])\n', registry)
    assert isinstance(task, PlanTask)
    assert task.args == {"text": [True, None, {"k": [1, -2]}]}


def test_end_marker_on_the_same_line(registry: ToolRegistry) -> None:
    parser = PlanParser(registry)
    out = parser.feed("1. echo(text='a')\n2. echo(text='b')<END_OF_PLAN>\n3. echo(text='c')\n")
    assert [t.id for t in out if isinstance(t, PlanTask)] == [1, 2]
    assert parser.ended
    assert parser.feed("4. echo(text='d')\n") == []
    assert parser.close() == []


def test_a_written_result_after_the_call_is_ignored(registry: ToolRegistry) -> None:
    # small models copy the "call -> result" lines of a replan prompt into the plan
    text = (
        '3. echo(text="a -> b") -> {"echoed": "a -> b"}\n'
        "4. add(a=$3, b=2)->5\n"
        "5. echo(text='x') -> \n"
        "6. echo(text='y' -> 'z')\n"
    )
    out = PlanParser(registry, known_ids={1, 2}).feed(text)
    tasks = [i for i in out if isinstance(i, PlanTask)]
    assert [(t.id, t.args) for t in tasks] == [
        (3, {"text": "a -> b"}),
        (4, {"a": Ref(3), "b": 2}),
        (5, {"text": "x"}),
    ]
    (error,) = [i for i in out if isinstance(i, PlanError)]
    assert error.task_id == 6  # no call closes before the arrow: still invalid
    assert error.reason.startswith("not a valid call")


def test_a_repeated_call_ends_a_looping_plan(registry: ToolRegistry) -> None:
    parser = PlanParser(registry)
    out = parser.feed(
        '1. population(country="France")\n'
        "2. echo(text='hi')\n"
        "3. echo(text='hi')\n"  # a tool with effects may be called twice on purpose: runs
        '4. population(country="Germany")\n'
        "5. add(a=$1, b=$4)\n"
        "6. add(b=$4, a=$1)\n"  # the same call of a read-only tool: the plan ends here
        "7. echo(text='never parsed')\n"
    )
    assert [t.id for t in out if isinstance(t, PlanTask)] == [1, 2, 3, 4, 5]
    assert parser.errors == []
    assert parser.ended
    assert parser.cut is not None
    assert parser.cut.task_id == 6
    assert parser.cut.reason.startswith("it repeats task 5")
    assert parser.cut.line == "6. add(b=$4, a=$1)"

    effects = PlanParser(registry)  # a tool with effects: the third repeat ends it
    looping = "".join(f"{i}. echo(text='x')\n" for i in range(1, 51))
    assert [t.id for t in effects.feed(looping) if isinstance(t, PlanTask)] == [1, 2, 3]
    assert effects.errors == []
    assert effects.cut is not None
    assert effects.cut.task_id == 4
    assert effects.cut.reason.startswith("the plan repeats earlier calls (3 times")

    unlimited = PlanParser(registry, max_repeats=None)
    assert len(unlimited.feed(looping)) == 50
    safe = "".join(f"{i}. population(country='France')\n" for i in range(1, 51))
    assert len(PlanParser(registry, max_repeats=None).feed(safe)) == 50


async def test_the_planner_stops_a_looping_model(registry: ToolRegistry) -> None:
    from toolweave.models.testing import ScriptedModel
    from toolweave.planner import Planner

    looping = "".join(f'{i}. population(country="France")\n' for i in range(1, 200))
    model = ScriptedModel([looping], chunk_size=10)
    draft = Planner(model).plan("q", list(registry))
    items = [item async for item in draft]
    assert [t.id for t in items if isinstance(t, PlanTask)] == [1]
    assert len(items) == 1
    assert draft.rejected == []
    assert draft.cut is not None
    assert draft.cut.task_id == 2
    assert draft.kept_text == '1. population(country="France")\n'
    assert len(draft.text) < len(looping) / 10  # the model's stream was closed early


def test_join_and_prose(registry: ToolRegistry) -> None:
    parser = PlanParser(registry)
    out = parser.feed("Here is the plan:\n1. echo(text='a')\n2. join()\n")
    assert [t.id for t in out if isinstance(t, PlanTask)] == [1]
    assert parser.joined
    assert not parser.ended


def test_without_tools_any_name_keyword_only() -> None:
    out = parse_plan("1. anything(x=1)\n2. other(1)\n")
    assert isinstance(out[0], PlanTask)
    assert isinstance(out[1], PlanError)
    assert "positional" in out[1].reason


def test_arguments_named_like_python_keywords() -> None:
    # Found by probing an OpenAPI spec: `from=` and `class=` are common API parameters,
    # and every line naming one was rejected as "invalid syntax".
    plan = (
        '1. exchange(from="USD", to="EUR", class = "spot")\n'
        '2. exchange(from=$1, to="is=", lambda=[$1], x="from=1")\n'
        "3. exchange(from=$1.in)\n"  # `in` is no field name a path can hold
        "4. exchange(from==1)\n"
    )
    out = parse_plan(plan)
    assert out[:2] == [
        PlanTask(1, "exchange", {"from": "USD", "to": "EUR", "class": "spot"}),
        PlanTask(2, "exchange", {"from": Ref(1), "to": "is=", "lambda": [Ref(1)], "x": "from=1"}),
    ]
    assert str(out[1]) == '2. exchange(from=$1, to="is=", lambda=[$1], x="from=1")'
    assert isinstance(out[2], PlanError)
    assert isinstance(out[3], PlanError)


def test_call_text_round_trips(registry: ToolRegistry) -> None:
    tasks = [t for t in items(PLAN, registry) if isinstance(t, PlanTask)]
    text = "\n".join(str(t) for t in tasks) + "\n"
    again = [t for t in items(text, registry) if isinstance(t, PlanTask)]
    assert [(t.id, t.tool, t.args) for t in again] == [(t.id, t.tool, t.args) for t in tasks]


def _cuts(text: str) -> st.SearchStrategy[list[str]]:
    def split(points: list[int]) -> list[str]:
        bounds = [0, *sorted(set(points)), len(text)]
        return [text[a:b] for a, b in itertools.pairwise(bounds)]

    return st.lists(st.integers(0, len(text)), max_size=40).map(split)


def _summary(out: list[PlanTask | PlanError]) -> list[object]:
    return [
        (i.id, i.tool, dict(i.args), i.thought)
        if isinstance(i, PlanTask)
        else (i.task_id, i.reason, i.line)
        for i in out
    ]


BIG_PLAN = (
    "Thought: fan out.\r\n"
    + "".join(f'{n}. echo(text="item {n}")\n' for n in range(1, 12))
    + '12. add(a=$11, b=${10})\n13. echo(text="$12 and $1")\n14. nosuch()\njoin()\n<END_OF_PLAN>'
)


@pytest.mark.slow  # hypothesis: 300 plans, each split many ways
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_chunking_gives_the_same_items(data: st.DataObject) -> None:
    registry = make_registry()
    whole = _summary(parse_plan(BIG_PLAN, registry))
    chunks = data.draw(_cuts(BIG_PLAN))
    parser = PlanParser(registry)
    out: list[PlanTask | PlanError] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    out += parser.close()
    assert _summary(out) == whole
    assert len([i for i in out if isinstance(i, PlanTask)]) == 13


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=string.printable + "$(){}[]\"'\ue000\ue001é", max_size=300))
def test_garbage_never_crashes(text: str) -> None:
    parser = PlanParser()
    out = parser.feed(text) + parser.close()
    assert all(isinstance(i, PlanTask | PlanError) for i in out)


def test_huge_numbers_are_rejected_lines_not_crashes() -> None:
    # found by the fault campaign: a task number of 5,000 digits raised ValueError
    parser = PlanParser(None)
    text = f"{'9' * 5000}. f(x=1)\n1. f(x=$1{'0' * 20})\n2. f(x=0x{'f' * 5000})\n3. f(x=7)\n"
    items = parser.feed(text) + parser.close()
    assert [type(i).__name__ for i in items] == ["PlanError", "PlanError", "PlanError", "PlanTask"]
    assert "too large" in items[0].reason  # type: ignore[union-attr]
    assert "too large" in items[2].reason  # type: ignore[union-attr]
    assert all(repr(item) for item in items)
