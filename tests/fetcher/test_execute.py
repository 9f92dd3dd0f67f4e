from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator

import pytest
import tenacity
from hypothesis import given, settings
from hypothesis import strategies as st

from toolweave import (
    LocalExecutor,
    PlanParser,
    PlanTask,
    Ref,
    TaskState,
    Tool,
    ToolRegistry,
    UserError,
    execute,
    tool,
)
from toolweave.events import (
    Event,
    PlanRejectedLine,
    TaskFailed,
    TaskPlanned,
    TaskSkipped,
    TaskSucceeded,
)
from toolweave.plan import Template

NO_WAIT = tenacity.wait_none()


def fan_out(n: int, name: str = "work") -> list[PlanTask]:
    return [PlanTask(i, name, {"i": i}) for i in range(1, n + 1)]


async def test_async_tools_overlap() -> None:
    @tool
    async def work(i: int) -> int:
        await asyncio.sleep(0.2)
        return i

    t0 = time.perf_counter()
    outcome = await execute(fan_out(8), [work])
    elapsed = time.perf_counter() - t0
    assert outcome.values == {i: i for i in range(1, 9)}
    assert elapsed < 1.0, f"8 x 0.2 s took {elapsed:.2f} s: the calls did not overlap"


async def test_async_tools_are_all_in_flight_together() -> None:
    arrived = 0
    everyone = asyncio.Event()

    @tool
    async def work(i: int) -> int:
        nonlocal arrived
        arrived += 1
        if arrived == 8:
            everyone.set()
        await everyone.wait()  # deadlocks unless all 8 run at once
        return i

    outcome = await asyncio.wait_for(execute(fan_out(8), [work]), 5)
    assert outcome.ok


async def test_sync_tools_overlap_on_threads() -> None:
    barrier = threading.Barrier(8, timeout=5)

    @tool
    def work(i: int) -> int:
        barrier.wait()  # raises BrokenBarrierError unless 8 threads are in at once
        time.sleep(0.2)
        return i

    t0 = time.perf_counter()
    outcome = await execute(fan_out(8), [work])
    elapsed = time.perf_counter() - t0
    assert outcome.ok, [r.error for r in outcome.results.values()]
    assert elapsed < 1.0


async def test_chains_respect_order_and_values_flow_typed() -> None:
    log: list[str] = []

    @tool
    async def fetch(key: str) -> dict[str, int]:
        log.append(f"start {key}")
        await asyncio.sleep(0.01)
        log.append(f"end {key}")
        return {key: len(key)}

    @tool
    async def merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        log.append("merge")
        return {**a, **b}

    @tool
    def describe(data: dict[str, int], label: str) -> str:
        return f"{label}: {sorted(data)}"

    plan = [
        PlanTask(1, "fetch", {"key": "ab"}),
        PlanTask(2, "fetch", {"key": "cde"}),
        PlanTask(3, "merge", {"a": Ref(1), "b": Ref(2)}),
        PlanTask(4, "describe", {"data": Ref(3), "label": Template(("merged ", Ref(1)))}),
    ]
    outcome = await execute(plan, [fetch, merge, describe])
    assert outcome.results[3].value == {"ab": 2, "cde": 3}
    assert outcome.results[4].value == "merged {\"ab\": 2}: ['ab', 'cde']"
    assert log.index("merge") > max(log.index("end ab"), log.index("end cde"))
    assert log[:2] == ["start ab", "start cde"]  # the two fetches overlapped
    r = outcome.results
    assert r[3].started_at is not None
    assert r[3].started_at >= max(r[1].finished_at or 0, r[2].finished_at or 0)


async def test_a_ref_value_is_fitted_to_the_parameter_that_takes_it() -> None:
    @tool
    def lookup(key: str) -> dict[str, int]:
        return {key: len(key)}

    @tool
    def count(n: int) -> int:
        return n

    @tool
    def shout(text: str) -> str:
        return text.upper()

    @tool
    def maybe(text: str | None = None) -> str:
        return repr(text)

    @tool
    def pair() -> dict[str, int]:
        return {"low": 1, "high": 9}

    @tool
    def page() -> dict[str, int]:
        return {"offset": 0, "n": 3}

    described = Tool.from_schema(  # a description-backed tool: "int | str", jsonschema
        "by_id",
        "Look up an id.",
        {"type": "object", "properties": {"id": {"type": ["integer", "string"]}}},
        lambda id: f"item {id!r}",
    )
    plan = [
        PlanTask(1, "lookup", {"key": "ab"}),
        PlanTask(2, "shout", {"text": Ref(1)}),  # dict -> JSON text
        PlanTask(3, "count", {"n": 7}),
        PlanTask(4, "shout", {"text": Ref(3)}),  # int -> "7"
        PlanTask(5, "by_id", {"id": Ref(3)}),  # an int is fine as is
        PlanTask(6, "by_id", {"id": Ref(1)}),  # a dict is not: text
        PlanTask(7, "count", {"n": Ref(1)}),  # a record its tool does not declare
        PlanTask(8, "maybe", {"text": Ref(3)}),  # anyOf [string, null]
        PlanTask(9, "shout", {"text": "1100"}),
        PlanTask(10, "count", {"n": Ref(9)}),  # a numeric text to an int parameter
        PlanTask(11, "count", {"n": Ref(2)}),  # not a number: still invalid
        PlanTask(12, "pair", {}),
        PlanTask(13, "count", {"n": Ref(12)}),  # two numbers: never guessed
        PlanTask(14, "count", {"n": Template((Ref(3),))}),  # "$3" to an int: the int
        PlanTask(15, "page", {}),
        PlanTask(16, "count", {"n": Ref(15)}),  # the record has the parameter's name
    ]
    outcome = await execute(plan, [lookup, count, shout, described, maybe, pair, page])
    r = outcome.results
    assert r[2].value == '{"AB": 2}'
    assert r[2].args == {"text": '{"ab": 2}'}  # what the tool was called with
    assert r[4].value == "7"
    assert r[5].value == "item 7"
    assert r[6].value == "item '{\"ab\": 2}'"
    assert r[7].error is not None  # one number in it, but what is it? never guessed
    assert "$1 is a record (ab), not a number: take the field it needs, as $1.<field>" in (
        r[7].error.message
    )
    assert r[8].value == "'7'"
    assert r[10].value == 1100
    assert r[11].state is TaskState.FAILED
    assert r[13].error is not None
    assert r[13].error.kind == "invalid_arguments"
    assert "$12 is a record (low, high), not a number: take the field it needs, as $12.<field>" in (
        r[13].error.message
    )
    assert r[14].args == {"n": 7}
    assert r[16].error is not None
    assert "take the field it needs, as $15.n" in r[16].error.message


async def test_a_raising_tool_skips_dependents_and_nothing_hangs() -> None:
    @tool
    async def boom(x: int) -> int:
        raise ValueError(f"bad {x}")

    @tool
    async def ok(x: int) -> int:
        return x

    plan = [
        PlanTask(1, "boom", {"x": 1}),
        PlanTask(2, "ok", {"x": Ref(1)}),
        PlanTask(3, "ok", {"x": Ref(2)}),
        PlanTask(4, "ok", {"x": 4}),
        PlanTask(5, "ok", {"x": Ref(4)}),
    ]
    events: list[Event] = []
    outcome = await asyncio.wait_for(execute(plan, [boom, ok], on_event=events.append), 5)
    states = {tid: r.state for tid, r in outcome.results.items()}
    assert states == {
        1: TaskState.FAILED,
        2: TaskState.SKIPPED,
        3: TaskState.SKIPPED,
        4: TaskState.SUCCEEDED,
        5: TaskState.SUCCEEDED,
    }
    err = outcome.results[1].error
    assert err is not None
    assert err.tool == "boom"
    assert err.arguments == {"x": 1}
    assert isinstance(err.__cause__, ValueError)
    assert "ValueError: bad 1" in err.message
    assert outcome.results[3].reason == "task 1 (boom) failed: ValueError: bad 1"
    assert not outcome.ok
    kinds = [type(e).__name__ for e in events if getattr(e, "task", None) and e.task.id == 1]  # type: ignore[attr-defined]
    assert kinds == ["TaskPlanned", "TaskStarted", "TaskFailed"]
    assert {e.task.id for e in events if isinstance(e, TaskSkipped)} == {2, 3}


async def test_timeouts() -> None:
    @tool(timeout=0.05)
    async def slow() -> None:
        await asyncio.sleep(30)

    release = threading.Event()

    @tool(timeout=0.05)
    def slow_sync() -> None:
        release.wait(10)  # held past its timeout, let go once the plan is done

    try:
        outcome = await asyncio.wait_for(
            execute([PlanTask(1, "slow"), PlanTask(2, "slow_sync")], [slow, slow_sync]), 5
        )
    finally:
        release.set()
    for tid in (1, 2):
        error = outcome.results[tid].error
        assert error is not None
        assert error.kind == "timeout"
        assert "timed out after 0.05s" in error.message


def flaky_tool(
    name: str, fails: int, exc: type[Exception], **flags: object
) -> tuple[Tool, list[int]]:
    calls: list[int] = []

    async def fn() -> str:
        calls.append(1)
        if len(calls) <= fails:
            raise exc("transient trouble")
        return "ok"

    return Tool.from_schema(name, "flaky", None, fn, **flags), calls  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flags", "exc", "succeeds", "calls"),
    [
        ({"read_only": True, "retries": 2}, ConnectionError, True, 3),
        ({"idempotent": True, "retries": 2}, TimeoutError, True, 3),
        ({"idempotent": True, "retries": 1}, ConnectionError, False, 2),
        ({"retries": 2}, ConnectionError, False, 1),  # not declared safe to repeat
        ({"read_only": True, "retries": 2}, ValueError, False, 1),  # not transient
        ({"read_only": True}, ConnectionError, False, 1),  # no retries asked
    ],
)
async def test_retries_only_where_allowed(
    flags: dict[str, object], exc: type[Exception], succeeds: bool, calls: int
) -> None:
    flaky, made = flaky_tool("flaky", 2, exc, **flags)
    outcome = await execute(
        [PlanTask(1, "flaky")], [flaky], executor=LocalExecutor(retry_wait=NO_WAIT)
    )
    result = outcome.results[1]
    assert (result.state is TaskState.SUCCEEDED) == succeeds
    assert len(made) == calls
    if not succeeds:
        assert result.error is not None
        assert result.error.attempts == calls


async def test_destructive_tools_need_approval_and_are_never_retried() -> None:
    wiped: list[str] = []

    @tool(destructive=True, idempotent=True, retries=3)
    def wipe(path: str) -> str:
        wiped.append(path)
        raise ConnectionError("disk went away")

    plan = [PlanTask(1, "wipe", {"path": "/tmp/x"})]
    refused = await execute(plan, [wipe])
    error = refused.results[1].error
    assert error is not None
    assert error.kind == "refused"
    assert wiped == []

    asked: list[dict[str, object]] = []

    async def approve(t: Tool, args: object) -> bool:
        asked.append(dict(args))  # type: ignore[call-overload]
        return t.name == "wipe"

    ran = await execute(plan, [wipe], executor=LocalExecutor(approve=approve, retry_wait=NO_WAIT))
    assert asked == [{"path": "/tmp/x"}]
    assert wiped == ["/tmp/x"]  # ran once, never retried
    assert ran.results[1].state is TaskState.FAILED

    denied = await execute(plan, [wipe], executor=LocalExecutor(approve=lambda t, a: False))
    assert denied.results[1].error is not None
    assert denied.results[1].error.message == "refused: the call was not approved"
    # found by probing: an approver answering "no" (truthy) let the call run
    for answer in ("no", 1, [True]):
        executor = LocalExecutor(approve=lambda t, a, answer=answer: answer)
        wrong = await execute(plan, [wipe], executor=executor)
        assert wrong.results[1].error is not None
        assert wrong.results[1].error.message == f"refused: the approver answered {answer!r}"
    assert wiped == ["/tmp/x"]


async def test_invalid_arguments_and_unknown_tools_fail_their_task() -> None:
    @tool
    def needs_int(x: int) -> int:
        return x

    outcome = await execute(
        [PlanTask(1, "needs_int", {"x": "nope"}), PlanTask(2, "missing", {})], [needs_int]
    )
    first, second = outcome.results[1].error, outcome.results[2].error
    assert first is not None
    assert first.kind == "invalid_arguments"
    assert "argument 'x'" in first.message
    assert second is not None
    assert second.kind == "unavailable"


async def test_streaming_plan_starts_tasks_before_the_stream_ends() -> None:
    started = asyncio.Event()

    @tool
    async def work(i: int) -> int:
        if i == 1:
            started.set()
        return i

    registry = ToolRegistry([work])

    async def stream() -> AsyncIterator[PlanTask]:
        parser = PlanParser(registry)
        for chunk in ["1. work(i=", "1)\n2. wo", "rk(i=$1)\n"]:
            for item in parser.feed(chunk):
                assert isinstance(item, PlanTask)
                yield item
        await started.wait()  # would deadlock if task 1 waited for the whole plan
        for item in parser.feed("3. work(i=3)\n") + parser.close():
            assert isinstance(item, PlanTask)
            yield item

    outcome = await asyncio.wait_for(execute(stream(), registry), 5)
    assert outcome.values == {1: 1, 2: 1, 3: 3}


async def test_a_broken_stream_keeps_what_was_dispatched() -> None:
    @tool
    async def work(i: int) -> int:
        await asyncio.sleep(0.02)
        return i

    async def stream() -> AsyncIterator[PlanTask]:
        yield PlanTask(1, "work", {"i": 1})
        yield PlanTask(2, "work", {"i": Ref(1)})
        raise ConnectionError("stream cut")

    outcome = await execute(stream(), [work])
    assert outcome.values == {1: 1, 2: 1}
    assert isinstance(outcome.stream_error, ConnectionError)
    assert not outcome.ok


async def test_rejected_lines_flow_through(registry: ToolRegistry) -> None:
    parser = PlanParser(registry)
    items = parser.feed("1. nosuch()\n2. echo(text=$1)\n3. echo(text='x')\n") + parser.close()
    events: list[Event] = []
    outcome = await execute(items, registry, on_event=events.append)
    assert outcome.results[2].state is TaskState.SKIPPED
    assert outcome.results[2].reason == "task 1 was rejected: unknown tool 'nosuch'"
    assert outcome.results[3].value == "x"
    assert [e.error.task_id for e in events if isinstance(e, PlanRejectedLine)] == [1]


async def test_cancellation_leaves_no_task_behind() -> None:
    started = 0
    cancelled = 0
    all_started = asyncio.Event()

    @tool
    async def forever(i: int) -> None:
        nonlocal started, cancelled
        started += 1
        if started == 5:
            all_started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    before = asyncio.all_tasks()
    run = asyncio.create_task(execute(fan_out(5, "forever"), [forever]))
    await asyncio.wait_for(all_started.wait(), 5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert cancelled == 5
    assert asyncio.all_tasks() == before


async def test_concurrency_limits() -> None:
    running = peak = 0

    async def body() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    @tool
    async def work(i: int) -> None:
        await body()

    @tool(max_concurrency=2)
    async def narrow(i: int) -> None:
        await body()

    await execute(fan_out(20), [work], max_concurrency=3)
    assert peak == 3
    peak = 0
    await execute(fan_out(20, "narrow"), [narrow])
    assert peak == 2
    peak = 0
    await execute(fan_out(20), [work], executor=LocalExecutor(max_concurrency=4))
    assert peak == 4
    with pytest.raises(UserError):
        await execute([], [work], max_concurrency=0)
    for bad in ({"max_concurrency": 0}, {"max_concurrency": -2}, {"max_threads": 0}):
        with pytest.raises(UserError, match="must be positive"):
            LocalExecutor(**bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="default_timeout must be positive, not 0"):
        LocalExecutor(default_timeout=0)


async def test_events_are_in_causal_order() -> None:
    @tool
    async def work(i: int) -> int:
        await asyncio.sleep(0)
        return i

    events: list[Event] = []
    plan = [PlanTask(1, "work", {"i": 1}), PlanTask(2, "work", {"i": Ref(1)})]
    await execute(plan, [work], on_event=events.append, run_id="r1")
    kinds = [(type(e).__name__, e.task.id) for e in events]  # type: ignore[attr-defined]
    position = {kind: i for i, kind in enumerate(kinds)}
    assert len(position) == 6
    for tid in (1, 2):
        assert position["TaskPlanned", tid] < position["TaskStarted", tid]
        assert position["TaskStarted", tid] < position["TaskSucceeded", tid]
    assert position["TaskSucceeded", 1] < position["TaskStarted", 2]
    assert all(e.run_id == "r1" for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    done = [e for e in events if isinstance(e, TaskSucceeded)]
    assert all(e.duration >= 0 for e in done)
    assert isinstance(events[0], TaskPlanned)
    assert isinstance(events[-1], TaskSucceeded)
    assert not any(isinstance(e, TaskFailed) for e in events)


async def test_user_errors_in_the_plan_raise() -> None:
    @tool
    async def work(i: int) -> int:
        return i

    with pytest.raises(UserError, match="already taken"):
        await execute([PlanTask(1, "work", {"i": 1}), PlanTask(1, "work", {"i": 2})], [work])


@st.composite
def random_plans(draw: st.DrawFn) -> tuple[list[PlanTask], set[int]]:
    n = draw(st.integers(1, 250))
    rng = random.Random(draw(st.integers(0, 2**32)))
    rate = draw(st.sampled_from([0.0, 0.05, 0.25]))
    tasks = []
    for i in range(1, n + 1):
        deps = rng.sample(range(1, i), min(rng.choice([0, 1, 1, 2, 3]), i - 1))
        tasks.append(PlanTask(i, "node", {"i": i, "inputs": [Ref(d) for d in deps]}))
    failing = {i for i in range(1, n + 1) if rng.random() < rate}
    return tasks, failing


@settings(max_examples=40, deadline=None)
@given(plan=random_plans(), streamed=st.booleans())
def test_random_dags_always_finish(plan: tuple[list[PlanTask], set[int]], streamed: bool) -> None:
    tasks, failing = plan

    @tool
    async def node(i: int, inputs: list[int]) -> int:
        await asyncio.sleep(0 if i % 3 else 0.001)
        if i in failing:
            raise RuntimeError(f"node {i} fails")
        return i

    async def stream() -> AsyncIterator[PlanTask]:
        for task in tasks:
            if task.id % 7 == 0:
                await asyncio.sleep(0)
            yield task

    async def main() -> None:
        source = stream() if streamed else tasks
        outcome = await asyncio.wait_for(execute(source, [node], max_concurrency=16), 20)
        states = {tid: r.state for tid, r in outcome.results.items()}
        assert len(states) == len(tasks)
        for task in tasks:
            inputs_ok = all(states[d] is TaskState.SUCCEEDED for d in task.deps)
            if not inputs_ok:
                assert states[task.id] is TaskState.SKIPPED
            elif task.id in failing:
                assert states[task.id] is TaskState.FAILED
            else:
                assert states[task.id] is TaskState.SUCCEEDED
                assert outcome.results[task.id].value == task.id

    asyncio.run(main())
