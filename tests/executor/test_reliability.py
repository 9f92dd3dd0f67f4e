"""Regression tests for failures found by using the library as its users do."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pydantic
import pytest
from support.helpers import process_ends, started_pid
from support.isolated_tools import divide, hang_then_mark, pid, sleep_then_mark, squares

from toolweave import (
    Agent,
    BudgetExceeded,
    LocalExecutor,
    TaskState,
    ToolError,
    ToolRegistry,
    ToolweaveError,
    tool,
)
from toolweave.events import Event, PlanRejectedLine, RunFinished, TaskStarted
from toolweave.models.testing import ScriptedModel

FINISH = "Thought: done.\nAction: Finish(ok)"


def _serial_tool() -> ToolRegistry:
    @tool(read_only=True, max_concurrency=1)
    async def slow(x: str) -> str:
        """Return x after a short wait; one call at a time."""
        await asyncio.sleep(0.01)
        return x

    return ToolRegistry([slow])


PLAN3 = '1. slow(x="a")\n2. slow(x="b")\n3. slow(x="c")\njoin()\n<END_OF_PLAN>'


def test_second_run_sync_with_a_concurrency_limited_tool() -> None:
    # each run_sync makes a new event loop; the tool's semaphore must not outlive its loop
    agent = Agent(ScriptedModel([PLAN3, FINISH, PLAN3, FINISH]), _serial_tool())
    for _ in range(2):
        result = agent.run_sync("three calls")
        assert result.status == "finished"
        assert [r.state for r in result.tasks.values()] == [TaskState.SUCCEEDED] * 3


def test_one_executor_on_two_event_loops_at_once() -> None:
    executor = LocalExecutor(max_concurrency=1)
    tools = _serial_tool()
    outcomes: list[object] = []

    def on_own_loop() -> None:
        async def main() -> object:
            return await asyncio.gather(*(executor.run(tools["slow"], {"x": c}) for c in "ab"))

        outcomes.append(asyncio.run(main()))

    threads = [threading.Thread(target=on_own_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes == [["a", "b"], ["a", "b"]]


@tool(read_only=True)
async def boom(x: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom on {x}")


@tool(read_only=True)
async def slow(x: str) -> str:
    """Return x."""
    return x


def test_replan_referring_to_a_failed_task_is_a_rejected_line() -> None:
    model = ScriptedModel(
        [
            '1. boom(x="a")\njoin()\n<END_OF_PLAN>',
            "Thought: it failed.\nAction: Replan(try again)",
            '2. slow(x=$1)\n3. slow(x="b")\njoin()\n<END_OF_PLAN>',
            "Thought: done.\nAction: Finish(b only)",
        ]
    )
    events: list[Event] = []

    async def main() -> None:
        async with Agent(model, [boom, slow]).stream("q") as stream:
            events.extend([e async for e in stream])

    asyncio.run(main())
    final = events[-1]
    assert isinstance(final, RunFinished)
    result = final.result
    assert result.status == "finished"
    assert result.answer == "b only"
    rejected = [e.error for e in events if isinstance(e, PlanRejectedLine)]
    assert len(rejected) == 1
    assert rejected[0].task_id == 2
    assert "boom" in rejected[0].reason
    assert "failed" in rejected[0].reason
    assert result.tasks[3].value == "b"
    assert 2 not in result.tasks  # never a task: the joiner sees the rejected line
    assert result.plans[1].rejected == rejected


def test_an_unexpected_exception_still_ends_the_run() -> None:
    class Broken(ScriptedModel):
        def stream(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
            raise KeyError("a bug in a model adapter")

    events: list[Event] = []
    agent = Agent(Broken([]), [slow])

    async def main() -> None:
        async with agent.stream("q") as stream:
            async for event in stream:
                events.append(event)

    with pytest.raises(ToolweaveError, match="KeyError") as caught:
        asyncio.run(main())
    assert isinstance(events[-1], RunFinished)
    result = caught.value.result
    assert result is not None
    assert result is events[-1].result
    assert result.status == "failed"
    assert result.error is not None
    assert "a bug in a model adapter" in result.error
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_run_in_flight_reads_running_not_finished() -> None:
    seen: list[str] = []

    async def main() -> None:
        gate = asyncio.Event()

        @tool(read_only=True)
        async def look(x: str) -> str:
            """Wait until the test has looked at the run."""
            await gate.wait()
            return x

        model = ScriptedModel(['1. look(x="a")\njoin()\n<END_OF_PLAN>', FINISH])
        async with Agent(model, [look]).stream("q") as stream:
            async for event in stream:
                if isinstance(event, TaskStarted):
                    seen.append(stream.result.status)
                    gate.set()
            seen.append(stream.result.status)

    asyncio.run(main())
    assert seen == ["running", "finished"]


# -- sync tools that can really be stopped ----------------------------------------------


@pytest.mark.slow  # process-pool workers
async def test_timed_out_process_tool_is_killed(tmp_path: Path) -> None:
    marker, started = tmp_path / "marker", tmp_path / "started"
    executor = LocalExecutor()
    try:
        await executor.run(pid, {})  # a worker is up: the call starts at once
        args = {"marker": str(marker), "seconds": 1.5, "started": str(started)}
        with pytest.raises(ToolError) as caught:
            await executor.run(hang_then_mark, args)
        assert caught.value.kind == "timeout"
        assert started.exists()  # it was running when it timed out
        assert await process_ends(int(started.read_text()))  # killed: it cannot finish
        assert not marker.exists()
    finally:
        executor.close()


@pytest.mark.slow  # process-pool workers
async def test_cancelled_process_tool_is_killed(tmp_path: Path) -> None:
    marker, started = tmp_path / "marker", tmp_path / "started"
    executor = LocalExecutor()
    try:
        args = {"marker": str(marker), "seconds": 1.0, "started": str(started)}
        call = asyncio.create_task(executor.run(sleep_then_mark, args))
        worker = await started_pid(started)  # cancelled while it runs
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await process_ends(worker)  # killed: it cannot finish
        assert not marker.exists()
    finally:
        executor.close()


@pytest.mark.slow  # process-pool workers
async def test_process_tool_results_errors_and_reuse() -> None:
    executor = LocalExecutor()
    try:
        assert await executor.run(divide, {"a": 1, "b": 4}) == 0.25
        with pytest.raises(ToolError, match="ZeroDivisionError"):
            await executor.run(divide, {"a": 1, "b": 0})
        first = await executor.run(pid, {})
        assert first != os.getpid()
        assert await executor.run(pid, {}) == first  # an idle worker is reused
    finally:
        executor.close()


def test_generator_tools_return_what_they_yield() -> None:
    # Found by probing: a generator tool's value was the generator object, which the
    # joiner read as "<async_generator object ...>" and `$1[0]` could not index.
    @tool(read_only=True)
    async def countdown(start: int) -> AsyncIterator[int]:
        """Count down from start to 1."""
        for i in range(start, 0, -1):
            await asyncio.sleep(0)
            yield i

    @tool(read_only=True)
    def pair(a: int, b: int) -> Iterator[int]:
        """Yield a, then b."""
        yield a
        yield b

    assert countdown.signature() == "countdown(start: int) -> list[int]"
    plan = "1. countdown(start=3)\n2. pair(a=$1[0], b=$1[2])\njoin()\n<END_OF_PLAN>"
    model = ScriptedModel([plan, FINISH])
    result = Agent(model, [countdown, pair]).run_sync("count down")
    assert result.status == "finished"
    assert [t.value for t in result.tasks.values()] == [[3, 2, 1], [3, 1]]
    assert "$2 = [3, 1]" in model.calls[1][-1]["content"]


def test_a_tool_that_calls_exit_fails_its_call_not_the_run() -> None:
    # Found by probing: a sync tool's sys.exit() (argparse exits on a bad option) left
    # the thread's future with a SystemExit that ended the caller's event loop.
    @tool
    def cli(argv: list[str]) -> str:
        """A command-line program, wrapped as a tool."""
        sys.exit(f"unknown option {argv[0]}")

    @tool
    async def quits() -> int:
        """An async tool that exits."""
        raise SystemExit(3)

    plan = '1. cli(argv=["--colour"])\n2. quits()\njoin()\n<END_OF_PLAN>'
    result = Agent(ScriptedModel([plan, FINISH]), [cli, quits]).run_sync("run it")
    assert result.status == "finished"
    errors = [t.error for t in result.tasks.values()]
    assert [e.message if e else None for e in errors] == [
        "SystemExit: unknown option --colour",
        "SystemExit: 3",
    ]


class Size(enum.Enum):
    LARGE = "large"


class City(pydantic.BaseModel):
    name: str
    population: int
    founded: datetime.date


@dataclasses.dataclass
class Area:
    km2: float
    tags: frozenset[str]


def test_typed_results_reach_the_joiner_as_their_data() -> None:
    # Found by probing: a pydantic model read as `name='Oslo' pop=709037`, an enum in a
    # dict as "Color.RED", a dataclass as its repr; the joiner now reads JSON.
    @tool(read_only=True)
    def city(name: str) -> City:
        """A city's record."""
        return City(name=name, population=709_037, founded=datetime.date(1048, 1, 1))

    @tool(read_only=True)
    def area(name: str) -> dict[str, object]:
        """A city's area."""
        return {"area": Area(454.0, frozenset({"land", "inland water"})), "size": Size.LARGE}

    plan = '1. city(name="Oslo")\n2. area(name="Oslo")\njoin()\n<END_OF_PLAN>'
    model = ScriptedModel([plan, FINISH])
    result = Agent(model, [city, area]).run_sync("How big is Oslo?")
    assert result.status == "finished"
    joiner_prompt = model.calls[1][-1]["content"]
    assert '$1 = city(name="Oslo") -> {"name": "Oslo", "population": 709037, ' in joiner_prompt
    assert '"founded": "1048-01-01"}' in joiner_prompt
    expected = '{"area": {"km2": 454, "tags": ["inland water", "land"]}, "size": "large"}'
    assert f'$2 = area(name="Oslo") -> {expected}' in joiner_prompt


@pytest.mark.slow  # process-pool workers
async def test_a_generator_tool_in_a_worker_process() -> None:
    executor = LocalExecutor()
    try:
        assert await executor.run(squares, {"n": 4}) == [0, 1, 4, 9]
    finally:
        executor.close()


def test_process_isolation_needs_a_module_level_sync_function() -> None:
    from toolweave import UserError

    with pytest.raises(UserError, match="sync"):

        @tool(isolation="process")
        async def not_sync() -> None:
            """An async tool."""

    with pytest.raises(UserError, match="module level"):

        @tool(isolation="process")
        def local() -> int:
            """Defined inside a function: a worker process could not import it."""
            return 1


def test_thread_tool_timeout_abandons_the_call() -> None:
    # the documented limit of the thread default: the call is abandoned, not stopped
    release, finished = threading.Event(), threading.Event()

    @tool(timeout=0.05)
    def sleepy() -> str:
        """Run past the timeout, until the test lets go."""
        release.wait(10)
        finished.set()
        return "late"

    executor = LocalExecutor()
    try:
        with pytest.raises(ToolError, match="timed out"):
            asyncio.run(executor.run(sleepy, {}))
        assert not finished.is_set()  # still running when its call timed out
        release.set()
        assert finished.wait(2)  # it ran on to its end
    finally:
        release.set()
        executor.close()


def test_token_budget_caps_the_plan_mid_stream() -> None:
    lines = "\n".join(f'{i}. slow(x="item number {i} of a long plan")' for i in range(1, 101))
    model = ScriptedModel([f"{lines}\njoin()\n<END_OF_PLAN>", FINISH])
    agent = Agent(model, [slow], max_tokens=200, max_tasks=1000)
    with pytest.raises(BudgetExceeded) as caught:
        agent.run_sync("a long plan")
    result = caught.value.result
    assert result is not None
    assert result.status == "budget_exceeded"
    planner = result.calls[0]
    assert 0 < planner.usage.completion_tokens <= 200  # the reply stopped at the budget
    assert len(result.calls) == 1  # no joiner call past the budget
    done = [r for r in result.tasks.values() if r.state is TaskState.SUCCEEDED]
    assert 0 < len(done) < 100  # what arrived before the cut ran, and is kept


def test_large_vector_index_without_hnswlib_searches_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    from toolweave.retrieval import _vectors

    monkeypatch.setattr(_vectors, "hnswlib_module", lambda: None)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = _vectors.VectorIndex(8, hnsw_threshold=100)  # "large" from 100 vectors on
    index.add(0, vectors)
    slots, scores = index.search(vectors[42], 3)
    assert slots[0] == 42
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(slots) == list(np.argsort(-(vectors @ vectors[42]))[:3])
