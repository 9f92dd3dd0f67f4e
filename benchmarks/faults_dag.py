"""Fault campaign, part 1: random plans through the whole agent, invariants on every run.

Each run draws a DAG (1 to `max_tasks` tasks; wide, deep or random), writes it as plan
text, streams it to the agent in random chunks, and gives every task a behaviour:
succeed, raise, or hang past its timeout, on the event loop, on a thread or in a worker
process. Some runs replan (the new plan refers to earlier tasks, failed ones included),
and some are cancelled from outside mid-run. After each run the invariants are checked:

- the run ends within its bound, with exactly one `RunFinished`, last;
- every task ends succeeded, failed or skipped; a task succeeds exactly when its tool
  succeeds and all its inputs did; a failing tool fails its task; everything downstream
  of a failure is skipped (a cancelled run may skip anything it had not finished);
- no result is lost: every succeeded task holds the value its tool returned;
- the events are in causal order (planned, started, ended; a task starts after all its
  inputs succeeded), and replaying them rebuilds the same tasks as the final result;
- no asyncio task is left behind; after the campaign no worker process is left, and
  the threads of abandoned sync calls end by themselves.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from toolweave import Agent, RunResult, TaskState, ToolweaveError, tool
from toolweave.agent import RunEvents
from toolweave.events import (
    Event,
    PlanRejectedLine,
    RunFinished,
    TaskFailed,
    TaskPlanned,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from toolweave.models import Message, ModelSettings, ModelStream, Usage

HANG = 0.02  # seconds: the timeout of the tools that hang
# A run that takes longer than this counts as a hang: 120 s, and 1 s more for each call
# isolated in a worker process. Alone, the largest run takes well under a second; the
# margin is for a 2-core machine shared with other work (the slowest run is reported).
RUN_BOUND = 120.0
PROCESS_START = 1.0


@tool(read_only=True)
async def ok(key: str, inputs: list[str] | None = None) -> str:
    """Succeed with the key."""
    await asyncio.sleep(0)
    return f"v:{key}"


@tool
async def fail(key: str, inputs: list[str] | None = None) -> str:
    """Raise."""
    raise RuntimeError(f"{key} fails on purpose")


@tool(timeout=HANG)
async def hang(key: str, inputs: list[str] | None = None) -> str:
    """Hang until the timeout stops it."""
    await asyncio.sleep(3600)
    return "never"


@tool(read_only=True)
def sync_ok(key: str, inputs: list[str] | None = None) -> str:
    """Succeed with the key, on a thread."""
    return f"v:{key}"


@tool
def sync_fail(key: str, inputs: list[str] | None = None) -> str:
    """Raise, on a thread."""
    raise ValueError(f"{key} fails on purpose")


@tool(timeout=HANG)
def sync_hang(key: str, inputs: list[str] | None = None) -> str:
    """Run past the timeout on a thread (abandoned; it ends by itself soon after)."""
    time.sleep(HANG * 3)
    return "late"


@tool(read_only=True, isolation="process")
def proc_ok(key: str, inputs: list[str] | None = None) -> str:
    """Succeed with the key, in a worker process."""
    return f"v:{key}"


@tool(timeout=0.5, isolation="process")
def proc_hang(key: str, inputs: list[str] | None = None) -> str:
    """Hang in a worker process until the timeout kills it."""
    time.sleep(3600)
    return "never"


TOOLS = [ok, fail, hang, sync_ok, sync_fail, sync_hang, proc_ok, proc_hang]
SUCCEEDS = {"ok", "sync_ok", "proc_ok"}


@dataclass
class Stats:
    """What the campaign did and found."""

    runs: int = 0
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    rejected_lines: int = 0
    replans: int = 0
    cancelled: int = 0
    hangs: int = 0
    lost_results: int = 0
    leaked_tasks: int = 0
    violations: list[str] = field(default_factory=list)
    largest: int = 0
    slowest: float = 0.0
    seconds: float = 0.0

    def merge(self, other: Stats) -> None:
        """Add another worker's figures."""
        for name in ("runs", "tasks", "succeeded", "failed", "skipped", "rejected_lines"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("replans", "cancelled", "hangs", "lost_results", "leaked_tasks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.violations += other.violations
        self.largest = max(self.largest, other.largest)
        self.slowest = max(self.slowest, other.slowest)


class RandomChunks:
    """A model that streams its scripted replies cut at random places."""

    def __init__(self, replies: Sequence[str], rng: random.Random) -> None:
        self.replies = list(replies)
        self.rng = rng

    @property
    def name(self) -> str:
        return "random-chunks"

    @asynccontextmanager
    async def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[ModelStream]:
        text = self.replies.pop(0) if self.replies else "Action: Finish(done)"
        response = ModelStream(self._chunks(text), Usage(100, 0))
        yield response
        response.usage = Usage(100, len(text) // 4)

    async def _chunks(self, text: str) -> AsyncIterator[str]:
        at, rng = 0, self.rng
        while at < len(text):
            size = rng.choice((1, 3, 8, 40, 200, 2000))
            yield text[at : at + size]
            at += size
            if rng.random() < 0.3:
                await asyncio.sleep(0)


def random_plan(rng: random.Random, first: int, count: int, earlier: Sequence[int]) -> str:
    """Plan text of `count` tasks from id `first`, refs to earlier ids of this plan or before."""
    shape = rng.choice(("wide", "deep", "random"))
    weights = {"ok": 30, "sync_ok": 6, "fail": 3, "sync_fail": 1, "hang": 2, "sync_hang": 1}
    if rng.random() < 0.05:  # worker processes are slower to start: a few runs only
        weights |= {"proc_ok": 4, "proc_hang": 1}
    names, odds = zip(*weights.items(), strict=True)
    lines = [f"Thought: a {shape} plan of {count} tasks."]
    for tid in range(first, first + count):
        before = [*earlier, *range(first, tid)]
        if shape == "wide" or not before:
            deps: list[int] = []
        elif shape == "deep":
            deps = [before[-1]]
        else:
            deps = rng.sample(before, min(len(before), rng.choice((0, 1, 1, 2, 3))))
        name = rng.choices(names, odds)[0]
        refs = ", ".join(f"${d}" for d in sorted(deps))
        inputs = f", inputs=[{refs}]" if deps else ""
        lines.append(f'{tid}. {name}(key="k{tid}"{inputs})')
    lines += ["join()", "<END_OF_PLAN>"]
    return "\n".join(lines)


def _size(rng: random.Random, max_tasks: int) -> int:
    return max(1, min(max_tasks, int(math.exp(rng.uniform(0, math.log(max_tasks + 1))))))


async def one_run(seed: int, max_tasks: int, stats: Stats, *, alone: bool = False) -> None:
    """One random run, checked; findings go into `stats`.

    `alone`: no other run shares the event loop, so any asyncio task left after the
    run is this run's leak (with company, the campaign checks for leaks at its end).
    """
    rng = random.Random(seed)
    n1 = _size(rng, max_tasks)
    replies = [random_plan(rng, 1, n1, [])]
    replan = rng.random() < 0.15
    if replan:
        n2 = _size(rng, max(1, max_tasks // 4))
        replies += ["Action: Replan(more)", random_plan(rng, n1 + 1, n2, range(1, n1 + 1))]
    replies.append("Action: Finish(done)")
    agent = Agent(RandomChunks(replies, rng), TOOLS, max_tasks=10_000, max_replans=1)
    cancel_after = rng.uniform(0, 0.05) if rng.random() < 0.1 else None
    events: list[Event] = []
    streams: list[RunEvents] = []
    before = asyncio.all_tasks()
    started = time.perf_counter()

    async def consume() -> None:
        async with agent.stream(f"run {seed}") as stream:
            streams.append(stream)
            async for event in stream:
                events.append(event)

    bound = RUN_BOUND + PROCESS_START * sum(r.count("proc_") for r in replies)
    try:
        async with asyncio.timeout(bound):
            runner = asyncio.ensure_future(consume())
            if cancel_after is not None:
                await asyncio.sleep(cancel_after)
                runner.cancel()
            try:
                await runner
            except asyncio.CancelledError:
                if cancel_after is None:
                    raise
            except ToolweaveError:
                pass
    except TimeoutError:
        stats.slowest = max(stats.slowest, bound)
        stats.hangs += 1
        stats.violations.append(f"seed {seed}: the run did not end within {bound:g}s")
        return
    finally:
        agent.close()
    stats.slowest = max(stats.slowest, time.perf_counter() - started)
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    if alone and left:
        stats.leaked_tasks += len(left)
        stats.violations.append(f"seed {seed}: {len(left)} asyncio task(s) left behind")
    stats.runs += 1
    if not streams:  # cancelled before the run began: nothing to check
        return
    result = streams[0].result
    # the consumer stops reading when it is cancelled, even after the run has finished
    cancelled = result.status == "cancelled" or runner.cancelled()
    stats.replans += int(replan)
    stats.cancelled += int(cancelled)
    _check(seed, events, result, cancelled, stats)


def _check(
    seed: int, events: list[Event], result: RunResult, cancelled: bool, stats: Stats
) -> None:
    bad = stats.violations
    finished = [e for e in events if isinstance(e, RunFinished)]
    if not cancelled:  # a cancelled consumer stops reading before the last event
        if len(finished) != 1 or not isinstance(events[-1], RunFinished):
            bad.append(f"seed {seed}: {len(finished)} RunFinished event(s), not one at the end")
            return
        if finished[0].result is not result:
            bad.append(f"seed {seed}: RunFinished carries another result than the stream's")
    if result.status == "running":
        bad.append(f"seed {seed}: the run ended with status 'running'")
    tasks = result.tasks
    stats.tasks += len(tasks)
    stats.largest = max(stats.largest, len(tasks))
    stats.rejected_lines += sum(isinstance(e, PlanRejectedLine) for e in events)
    for tid, record in tasks.items():
        state = record.state
        stats.succeeded += state is TaskState.SUCCEEDED
        stats.failed += state is TaskState.FAILED
        stats.skipped += state is TaskState.SKIPPED
        if not state.done:
            bad.append(f"seed {seed}: task {tid} ended {state.value}")
            continue
        deps_ok = all(
            d in tasks and tasks[d].state is TaskState.SUCCEEDED for d in record.task.deps
        )
        good = record.task.tool in SUCCEEDS
        if state is TaskState.SUCCEEDED:
            if not (good and deps_ok):
                bad.append(f"seed {seed}: task {tid} succeeded without cause")
            elif record.value != f"v:k{tid}":
                stats.lost_results += 1
                bad.append(f"seed {seed}: task {tid} lost its value ({record.value!r})")
        elif state is TaskState.FAILED:
            if good and not cancelled:
                bad.append(f"seed {seed}: task {tid} failed: {record.error}")
        elif not cancelled and deps_ok:
            bad.append(f"seed {seed}: task {tid} skipped for no reason: {record.reason}")
    _check_order(seed, events, result, cancelled, bad)


def _check_order(
    seed: int, events: list[Event], result: RunResult, cancelled: bool, bad: list[str]
) -> None:
    """Causal order, and the events alone rebuild the final tasks."""
    planned: set[int] = set()
    started: set[int] = set()
    states: dict[int, tuple[str, object]] = {}
    for event in events:
        if isinstance(event, TaskPlanned):
            planned.add(event.task.id)
        elif isinstance(event, TaskStarted):
            tid = event.task.id
            if tid not in planned or tid in started:
                bad.append(f"seed {seed}: task {tid} started out of order")
            missing = [d for d in event.task.deps if states.get(d, ("",))[0] != "succeeded"]
            if missing:
                bad.append(f"seed {seed}: task {tid} started before its inputs {missing}")
            started.add(tid)
        elif isinstance(event, TaskSucceeded | TaskFailed | TaskSkipped):
            tid = event.task.id
            if tid not in planned or tid in states:
                bad.append(f"seed {seed}: task {tid} ended out of order")
            if isinstance(event, TaskSucceeded):
                states[tid] = ("succeeded", event.value)
            elif isinstance(event, TaskFailed):
                states[tid] = ("failed", event.error.message)
            else:
                states[tid] = ("skipped", event.reason)
    if not planned <= set(result.tasks) or (not cancelled and planned != set(result.tasks)):
        bad.append(f"seed {seed}: the events plan other tasks than the result holds")
    for tid, record in result.tasks.items():
        if tid not in states:  # ended after a cancelled consumer stopped reading, or cut short
            if not cancelled and record.state is not TaskState.SKIPPED:
                bad.append(f"seed {seed}: task {tid} has no end event")
            continue
        kind, what = states[tid]
        if kind != record.state.value:
            bad.append(f"seed {seed}: task {tid}: events say {kind}, the result {record.state}")
        elif kind == "succeeded" and what != record.value:
            bad.append(f"seed {seed}: task {tid}: events and result disagree on its value")


async def campaign(
    runs: int,
    *,
    max_tasks: int = 1000,
    seed: int = 0,
    concurrency: int = 8,
    progress: Callable[[Stats], None] | None = None,
) -> Stats:
    """`runs` random runs, `concurrency` at a time; the figures and any violations.

    `progress` is called with the figures so far after each run.
    """
    stats = Stats()
    started = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)

    async def guarded(n: int) -> None:
        async with gate:
            await one_run(seed * 1_000_003 + n, max_tasks, stats, alone=concurrency == 1)
        if progress is not None:
            progress(stats)

    async with asyncio.TaskGroup() as group:
        for n in range(runs):
            group.create_task(guarded(n))
    await asyncio.sleep(0)
    left = asyncio.all_tasks() - {asyncio.current_task()}
    if left:
        stats.leaked_tasks += len(left)
        stats.violations.append(f"{len(left)} asyncio task(s) left after the campaign")
    stats.seconds = time.perf_counter() - started
    return stats
