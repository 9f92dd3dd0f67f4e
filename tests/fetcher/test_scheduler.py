from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolweave import PlanError, PlanTask, Ref, Scheduler, TaskState, ToolError, UserError
from toolweave.plan import Template


def t(tid: int, *deps: int) -> PlanTask:
    return PlanTask(tid, "f", {f"a{d}": Ref(d) for d in deps})


def err(tid: int) -> ToolError:
    return ToolError("f", f"boom {tid}")


def test_diamond() -> None:
    s = Scheduler()
    for task in (t(1), t(2, 1), t(3, 1), t(4, 2, 3)):
        s.add(task)
    s.close()
    assert [x.id for x in s.ready()] == [1]
    assert s.ready() == []
    s.succeed(1, "one")
    assert sorted(x.id for x in s.ready()) == [2, 3]
    s.succeed(2, 2)
    assert s.ready() == []
    s.succeed(3, 3)
    (four,) = s.ready()
    assert s.resolve(four) == {"a2": 2, "a3": 3}
    assert not s.finished
    s.succeed(4, None)
    assert s.finished
    assert all(r.state is TaskState.SUCCEEDED for r in s.results.values())


def test_failure_skips_everything_downstream_only() -> None:
    s = Scheduler()
    for task in (t(1), t(2), t(3, 1), t(4, 3), t(5, 2), t(6, 4, 5)):
        s.add(task)
    s.ready()
    s.fail(1, err(1))
    skipped = s.take_skipped()
    assert sorted(r.task.id for r in skipped) == [3, 4, 6]
    assert all("task 1 (f) failed: boom 1" in (r.reason or "") for r in skipped)
    s.succeed(2, 2)
    (five,) = s.ready()
    s.succeed(five.id, 5)
    # 6 waits on 4 (skipped) and 5 (now succeeded): skipped already, never made ready
    assert s.ready() == []
    s.close()
    assert s.finished
    states = {tid: r.state for tid, r in s.results.items()}
    assert states == {
        1: TaskState.FAILED,
        2: TaskState.SUCCEEDED,
        3: TaskState.SKIPPED,
        4: TaskState.SKIPPED,
        5: TaskState.SUCCEEDED,
        6: TaskState.SKIPPED,
    }


def test_tasks_arriving_after_a_failure_are_skipped_at_once() -> None:
    s = Scheduler()
    s.add(t(1))
    s.ready()
    s.fail(1, err(1))
    s.add(t(2, 1))
    (skipped,) = s.take_skipped()
    assert skipped.task.id == 2
    s.close()
    assert s.finished


def test_rejected_lines_skip_their_dependents() -> None:
    s = Scheduler()
    s.reject(PlanError("unknown tool 'x'", line="1. x()", task_id=1))
    s.reject(PlanError("no id", line="garbage"))  # no id: nothing to block
    s.add(t(2, 1))
    (skipped,) = s.take_skipped()
    assert skipped.reason == "task 1 was rejected: unknown tool 'x'"


def test_earlier_values_feed_new_tasks() -> None:
    s = Scheduler(values={1: {"k": "v"}})
    s.add(PlanTask(2, "f", {"whole": Ref(1), "text": Template(("got ", Ref(1)))}))
    (two,) = s.ready()
    assert s.resolve(two) == {"whole": {"k": "v"}, "text": 'got {"k": "v"}'}


def test_misuse_is_a_user_error() -> None:
    s = Scheduler(values={1: None})
    with pytest.raises(UserError, match="already taken"):
        s.add(t(1))
    with pytest.raises(UserError, match="never added"):
        s.add(t(3, 2))
    s.add(t(2))
    with pytest.raises(UserError, match="not running"):
        s.succeed(2, None)
    with pytest.raises(UserError, match="not running"):
        s.fail(9, err(9))
    s.close()
    with pytest.raises(UserError, match="closed"):
        s.add(t(4))


@st.composite
def dags(draw: st.DrawFn) -> list[PlanTask]:
    n = draw(st.integers(1, 300))
    rng = random.Random(draw(st.integers(0, 2**32)))
    tasks = []
    for i in range(1, n + 1):
        k = rng.choice([0, 0, 1, 1, 2, 3])
        deps = rng.sample(range(1, i), min(k, i - 1))
        tasks.append(t(i, *deps))
    return tasks


@settings(max_examples=60, deadline=None)
@given(tasks=dags(), seed=st.integers(0, 2**32), fail_rate=st.sampled_from([0.0, 0.05, 0.3]))
def test_random_dags_always_finish(tasks: list[PlanTask], seed: int, fail_rate: float) -> None:
    """Sans-IO: random DAGs, random failures, random completion order, any arrival time."""
    rng = random.Random(seed)
    s = Scheduler()
    pending = list(tasks)
    running: list[PlanTask] = []
    while not s.finished:
        if pending and (not running or rng.random() < 0.5):
            s.add(pending.pop(0))
            if not pending:
                s.close()
        running += s.ready()
        assert pending or running or s.finished, "not finished, yet nothing can run"
        if running and (not pending or rng.random() < 0.7):
            task = running.pop(rng.randrange(len(running)))
            if rng.random() < fail_rate:
                s.fail(task.id, err(task.id))
            else:
                s.succeed(task.id, task.id)
    assert running == []
    assert s.ready() == []
    states = {tid: r.state for tid, r in s.results.items()}
    assert all(state.done for state in states.values())
    for task in tasks:  # a task succeeded or failed iff all its inputs succeeded
        inputs_ok = all(states[d] is TaskState.SUCCEEDED for d in task.deps)
        assert (states[task.id] is not TaskState.SKIPPED) == inputs_ok
