"""RayExecutor on a local Ray instance (2 CPUs) started once for the test session."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.helpers import process_ends, started_pid

ray = pytest.importorskip("ray")

from ray import cloudpickle  # noqa: E402

from toolweave import Agent, ToolError, tool  # noqa: E402
from toolweave.executor import RayExecutor, RayOptions  # noqa: E402
from toolweave.models.testing import ScriptedModel  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_instance")]

# The workers cannot import this test module: its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@tool(read_only=True)
def span(n: int) -> dict[str, Any]:
    """Sleep a little; say when and where (process id) it ran."""
    start = time.time()
    time.sleep(0.4)
    return {"n": n, "start": start, "end": time.time(), "pid": os.getpid()}


@tool(read_only=True)
async def wait_span(n: int) -> dict[str, Any]:
    """Wait a little without holding a CPU; say when and where it ran."""
    start = time.time()
    await asyncio.sleep(0.4)
    return {"n": n, "start": start, "end": time.time(), "pid": os.getpid()}


@tool(read_only=True)
async def inc(x: int) -> int:
    """Add one, asynchronously."""
    await asyncio.sleep(0.01)
    return x + 1


@tool(read_only=True)
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@tool(read_only=True, timeout=0.5)
def slow_write(path: str) -> str:
    """Write 'started' (this worker's pid, whole), sleep 1 s, then write 'finished'."""
    Path(path, "started.part").write_text(str(os.getpid()))
    Path(path, "started.part").rename(Path(path, "started"))
    time.sleep(1.0)
    Path(path, "finished").touch()
    return "finished"


@tool(read_only=True, retries=1)
def flaky(path: str) -> int:
    """Crash the worker on the first call (a marker file remembers), then answer."""
    marker = Path(path, "crashed-once")
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return os.getpid()


@tool(destructive=True, retries=3)
def launch(path: str) -> int:
    """Record an attempt, then crash the worker."""
    with Path(path, "attempts").open("a") as f:
        f.write("x")
    os._exit(1)


def make_counter() -> Any:
    state = {"count": 0}

    def counter() -> dict[str, int]:
        """Count the calls so far in this process."""
        state["count"] += 1
        return {"count": state["count"], "pid": os.getpid()}

    return tool(counter)


@tool
def anything(value: Any) -> str:
    """Take any value."""
    return type(value).__name__


@tool
def lock() -> Any:
    """Return a value that cannot be pickled."""
    return threading.Lock()


def peak(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = best = 0
    for _, step in edges:
        running += step
        best = max(best, running)
    return best


async def test_six_parallel_calls_overlap_within_the_cpus() -> None:
    # two workers up before timing: a worker starting seconds late on a loaded
    # machine would show no overlap, and that is Ray's start-up, not the executor
    await asyncio.gather(*(RayExecutor().run(span, {"n": 0}) for _ in range(2)))
    plan = "".join(f"{i}. span(n={i})\n" for i in range(1, 7)) + "join()\n"
    model = ScriptedModel([plan, "Action: Finish(done)"])
    agent = Agent(model, [span], executor=RayExecutor())
    result = await agent.run("six lookups")
    assert result.answer == "done"
    values = [result.tasks[i].value for i in range(1, 7)]
    assert [v["n"] for v in values] == list(range(1, 7))
    assert os.getpid() not in {v["pid"] for v in values}  # ran on workers
    # one CPU per call on a 2-CPU instance: two at a time, never more
    assert peak([(v["start"], v["end"]) for v in values]) == 2
    # an async tool on its actor: the six calls wait side by side, in one process
    waiting = RayExecutor(tools={"wait_span": RayOptions(actor=True)})
    try:
        spans = await asyncio.gather(*(waiting.run(wait_span, {"n": i}) for i in range(6)))
    finally:
        waiting.close()
    assert peak([(v["start"], v["end"]) for v in spans]) == 6
    assert len({v["pid"] for v in spans}) == 1


async def test_a_tools_concurrency_limit_holds_on_ray() -> None:
    one_at_a_time = dataclasses.replace(span, max_concurrency=1)
    executor = RayExecutor()
    spans = await asyncio.gather(*(executor.run(one_at_a_time, {"n": i}) for i in range(3)))
    assert peak([(v["start"], v["end"]) for v in spans]) == 1


async def test_a_dependent_chain_passes_values_along() -> None:
    plan = "1. inc(x=1)\n2. inc(x=$1)\n3. inc(x=$2)\njoin()\n"
    model = ScriptedModel([plan, "Action: Finish(4)"])
    result = await Agent(model, [inc], executor=RayExecutor()).run("count")
    assert [result.tasks[i].value for i in (1, 2, 3)] == [2, 3, 4]
    ordered = [result.tasks[i] for i in (1, 2, 3)]
    for before, after in itertools.pairwise(ordered):
        assert before.finished_at is not None
        assert after.started_at is not None
        assert before.finished_at <= after.started_at


async def test_a_remote_exception_reaches_the_joiner_as_its_last_line() -> None:
    model = ScriptedModel(["1. divide(a=1, b=0)\njoin()\n", "Action: Finish(cannot)"])
    result = await Agent(model, [divide], executor=RayExecutor()).run("1/0")
    error = result.tasks[1].error
    assert error is not None
    assert error.message == "ZeroDivisionError: float division by zero"
    joiner_prompt = model.calls[-1][-1]["content"]
    assert "ZeroDivisionError: float division by zero" in joiner_prompt
    with pytest.raises(ToolError) as info:
        await RayExecutor().run(divide, {"a": 1, "b": 0})
    assert info.value.kind == "exception"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


async def test_a_timed_out_call_is_stopped_and_never_finishes(tmp_path: Path) -> None:
    executor = RayExecutor()
    await executor.run(span, {"n": 0})  # a worker is up: the call starts at once
    started = time.perf_counter()
    with pytest.raises(ToolError) as info:
        await executor.run(slow_write, {"path": str(tmp_path)})
    assert info.value.kind == "timeout"
    assert info.value.message == "timed out after 0.5s"
    assert time.perf_counter() - started < 1.0
    assert (tmp_path / "started").exists()  # it was running when it timed out
    assert await process_ends(int((tmp_path / "started").read_text()))  # it cannot finish
    assert not (tmp_path / "finished").exists()


async def test_a_read_only_call_is_retried_after_its_worker_died(tmp_path: Path) -> None:
    pid = await RayExecutor().run(flaky, {"path": str(tmp_path)})
    assert (tmp_path / "crashed-once").exists()  # the first attempt's worker died
    assert pid != os.getpid()


async def test_a_destructive_call_runs_once_and_only_when_approved(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as refused:
        await RayExecutor().run(launch, {"path": str(tmp_path)})
    assert refused.value.kind == "refused"
    assert not (tmp_path / "attempts").exists()
    approved = RayExecutor(approve=lambda tool, args: True)
    with pytest.raises(ToolError) as crashed:
        await approved.run(launch, {"path": str(tmp_path)})
    assert crashed.value.attempts == 1
    assert "WorkerLost" in crashed.value.message
    assert (tmp_path / "attempts").read_text() == "x"  # never retried


async def test_a_stateful_tool_keeps_its_state_on_its_actor() -> None:
    counter = make_counter()
    executor = RayExecutor(tools={"counter": RayOptions(actor=True, num_cpus=0)})
    try:
        calls = [await executor.run(counter, {}) for _ in range(3)]
        assert [c["count"] for c in calls] == [1, 2, 3]
        assert len({c["pid"] for c in calls}) == 1
        assert calls[0]["pid"] != os.getpid()
        assert ray.get_actor("toolweave.counter") is not None
    finally:
        executor.close()
    with pytest.raises(ValueError, match=r"toolweave\.counter"):
        ray.get_actor("toolweave.counter")


async def test_values_that_cannot_travel_fail_clearly() -> None:
    executor = RayExecutor()
    with pytest.raises(ToolError) as argument:
        await executor.run(anything, {"value": threading.Lock()})
    assert argument.value.kind == "invalid_arguments"
    assert argument.value.message.startswith(
        "argument 'value' (lock) cannot be sent to a Ray worker: cannot pickle"
    )
    with pytest.raises(ToolError) as result:
        await executor.run(lock, {})
    assert result.value.message.startswith(
        "TypeError: the result (lock) cannot be sent back from the Ray worker: cannot pickle"
    )


def make_guarded() -> Any:
    guard = threading.Lock()

    def guarded() -> str:
        """Use a lock that cannot travel."""
        with guard:
            return "ran"

    return tool(guarded)


async def test_a_function_that_cannot_travel_fails_clearly() -> None:
    guarded = make_guarded()
    for executor in (RayExecutor(), RayExecutor(default=RayOptions(actor=True))):
        with pytest.raises(ToolError) as info:
            await executor.run(guarded, {})
        assert info.value.kind == "unavailable"
        assert info.value.message.startswith(
            "the tool's function cannot be sent to a Ray worker (cannot pickle '_thread.lock'"
        )
    assert await RayExecutor(local={"guarded"}).run(guarded, {}) == "ran"


async def test_local_tools_run_in_this_process_beside_remote_ones() -> None:
    executor = RayExecutor(local={"span"})
    here, there = await asyncio.gather(
        executor.run(span, {"n": 1}), RayExecutor().run(span, {"n": 2})
    )
    assert here["pid"] == os.getpid()
    assert there["pid"] != os.getpid()
    assert executor.options(span) is None
    assert executor.options(inc) == RayOptions()


async def test_cancelling_a_run_cancels_its_remote_calls(tmp_path: Path) -> None:
    slow = dataclasses.replace(slow_write, timeout=None)
    async with asyncio.TaskGroup() as group:
        call = group.create_task(RayExecutor().run(slow, {"path": str(tmp_path)}))
        worker = await started_pid(tmp_path / "started")
        call.cancel()
    assert call.cancelled()
    assert await process_ends(worker)  # its worker is gone: it cannot finish
    assert not (tmp_path / "finished").exists()


def test_options_translate_to_ray() -> None:
    options = RayOptions(num_cpus=0.5, num_gpus=1, resources={"crawler": 1}, runtime_env={"a": 1})
    assert options.ray_options() == {
        "num_cpus": 0.5,
        "num_gpus": 1,
        "runtime_env": {"a": 1},
        "resources": {"crawler": 1},
    }
    assert RayOptions().ray_options() == {}


START_ONE_LINE = """
import asyncio, os, ray
from toolweave import tool
from toolweave.executor import RayExecutor

@tool(read_only=True)
def where() -> int:
    return os.getpid()

executor = RayExecutor()
assert ray.cluster_resources()["CPU"] == os.cpu_count()
assert asyncio.run(executor.run(where, {})) != os.getpid()
executor.close()
assert not ray.is_initialized()
print("ok")
"""


@pytest.mark.ray_slow
async def test_one_line_starts_a_local_instance_with_the_cores_and_stops_it() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        START_ONE_LINE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert out.decode().strip().endswith("ok")
