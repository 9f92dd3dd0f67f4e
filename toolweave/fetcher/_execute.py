"""`execute`: drive the scheduler and an executor over a (streaming) plan.

The driver never polls and never waits on a timer. It wakes on two kinds of event,
each of which is a step of its own coroutine: a task arrives from the plan (the loop
over the plan's items), or a call finishes (the end of that call's coroutine). Each
wake-up asks the scheduler what became ready and starts it at once, in the run's
`asyncio.TaskGroup`, so that leaving `execute` (normally, by error, or by
cancellation) leaves no call behind.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field

from toolweave.errors import PlanError, ToolError, UserError
from toolweave.events import (
    EventSink,
    PlanRejectedLine,
    TaskFailed,
    TaskPlanned,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
    task_scope,
)
from toolweave.executor import Executor, LocalExecutor
from toolweave.fetcher._memo import CallMemo
from toolweave.fetcher._ref_coercion import fit_refs
from toolweave.fetcher._scheduler import Scheduler, TaskResult, TaskState
from toolweave.plan import FieldError, PlanItem, PlanTask
from toolweave.tools import Tool, ToolRegistry
from toolweave.tools._registry import as_registry

__all__ = ["PlanOutcome", "execute"]


@dataclass(slots=True)
class PlanOutcome:
    """What became of a plan's tasks.

    Attributes:
        results: Every task that arrived, by id: state, value or error, timings.
        rejected: The plan lines that were rejected, in order.
        stream_error: The exception that ended the plan stream early, if any; the
            tasks that had arrived before it still ran.
        started_at: When execution started (`time.perf_counter()`).
        finished_at: When the last task finished.
    """

    results: dict[int, TaskResult] = field(default_factory=dict)
    rejected: list[PlanError] = field(default_factory=list)
    stream_error: Exception | None = None
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def values(self) -> dict[int, object]:
        """The value of every succeeded task, by id."""
        return {tid: r.value for tid, r in self.results.items() if r.state is TaskState.SUCCEEDED}

    def by_state(self, state: TaskState) -> list[TaskResult]:
        """The results in one state, in task order."""
        return [r for r in self.results.values() if r.state is state]

    @property
    def ok(self) -> bool:
        """Every task succeeded, no line was rejected and the stream did not break."""
        return (
            not self.rejected
            and self.stream_error is None
            and all(r.state is TaskState.SUCCEEDED for r in self.results.values())
        )

    @property
    def wall_time(self) -> float:
        """Seconds from the start of execution to the end of the last task."""
        return self.finished_at - self.started_at


async def execute(
    tasks: Iterable[PlanItem] | AsyncIterable[PlanItem],
    tools: ToolRegistry | Iterable[Tool],
    *,
    executor: Executor | None = None,
    max_concurrency: int | None = None,
    on_event: EventSink | None = None,
    values: Mapping[int, object] | None = None,
    run_id: str = "",
    memo: CallMemo | None = None,
) -> PlanOutcome:
    """Run a plan's tasks, each as soon as its inputs exist, as many at once as allowed.

    Args:
        tasks: The plan: `PlanTask`s (and `PlanError`s for rejected lines, as the
            `PlanParser` yields them), from a list or streaming from an async iterable.
        tools: The tools the tasks call.
        executor: Where calls run; a `LocalExecutor` by default (closed at the end).
        max_concurrency: How many of this plan's calls may run at once.
        on_event: Called with each event (TaskPlanned, TaskStarted, TaskSucceeded,
            TaskFailed, TaskSkipped, PlanRejectedLine), in causal order.
        values: Results of earlier plans' tasks, which this plan's refs may name.
        run_id: Stamped on every event.
        memo: The run's memo of calls, shared by its plans: an identical call (same
            tool, same resolved arguments) of a read-only or idempotent tool that is
            not destructive takes the earlier result, or joins the call in flight,
            instead of running again (`TaskResult.memo_of` names the task that ran
            it). A fresh memo per plan by default.

    Returns:
        Every task's state, value or error, and timings. Tool failures do not raise:
        they fail their task and skip its dependents.

    Raises:
        UserError: A task reuses an id or depends on a task that never arrived.
    """
    if max_concurrency is not None and max_concurrency < 1:
        raise UserError("max_concurrency must be >= 1")
    own: LocalExecutor | None = None
    if executor is None:
        executor = own = LocalExecutor()
    driver = _Driver(as_registry(tools), executor, max_concurrency, on_event, values, run_id, memo)
    try:
        return await driver.run(tasks)
    finally:
        if own is not None:
            own.close()


class _Driver:
    __slots__ = (
        "_backlog",
        "_emit",
        "_group",
        "_limit",
        "_memo",
        "_running",
        "_scheduler",
        "_tools",
        "executor",
        "outcome",
        "run_id",
    )

    def __init__(
        self,
        tools: ToolRegistry,
        executor: Executor,
        limit: int | None,
        on_event: EventSink | None,
        values: Mapping[int, object] | None,
        run_id: str,
        memo: CallMemo | None,
    ) -> None:
        self._tools = tools
        self._memo = CallMemo() if memo is None else memo
        self.executor = executor
        self._limit = limit
        self._emit = on_event
        self._scheduler = Scheduler(values)
        self._backlog: deque[PlanTask] = deque()
        self._running = 0
        self._group: asyncio.TaskGroup | None = None
        self.run_id = run_id
        self.outcome = PlanOutcome()

    def _producer(self, task_id: int) -> Tool | None:
        """The tool of a task of this plan (for a ref to its result), if it is known."""
        result = self._scheduler.results.get(task_id)
        return None if result is None else self._tools.get(result.task.tool)

    async def run(self, tasks: Iterable[PlanItem] | AsyncIterable[PlanItem]) -> PlanOutcome:
        self.outcome.started_at = time.perf_counter()
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                if isinstance(tasks, AsyncIterable):
                    await self._consume(tasks)
                else:
                    for item in tasks:
                        self._arrive(item)
                self._scheduler.close()
        except BaseExceptionGroup as errors:
            # Calls never raise (failures are values), so the group holds the one error
            # of the plan's consumer or of an event sink: surface it as it was raised.
            if len(errors.exceptions) == 1:
                error = errors.exceptions[0]
                raise error from error.__cause__  # keep its own cause, not the group
            raise
        self.outcome.results = dict(self._scheduler.results)
        self.outcome.finished_at = max(
            (r.finished_at for r in self.outcome.results.values() if r.finished_at is not None),
            default=time.perf_counter(),
        )
        return self.outcome

    async def _consume(self, tasks: AsyncIterable[PlanItem]) -> None:
        items = aiter(tasks)
        try:
            while True:
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
                except Exception as exc:  # the stream broke; what arrived still runs
                    self.outcome.stream_error = exc
                    return
                self._arrive(item)
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()

    def _arrive(self, item: PlanItem) -> None:
        if isinstance(item, PlanError):
            self._scheduler.reject(item)
            self.outcome.rejected.append(item)
            if self._emit is not None:
                self._emit(PlanRejectedLine(run_id=self.run_id, error=item))
        elif isinstance(item, PlanTask):
            self._scheduler.add(item)
            if self._emit is not None:
                self._emit(TaskPlanned(run_id=self.run_id, task=item))
        else:
            raise UserError(f"a plan holds PlanTask and PlanError items, not {item!r}")
        self._dispatch()

    def _dispatch(self) -> None:
        group = self._group
        assert group is not None
        ready = self._scheduler.ready()
        if self._limit is None and not self._backlog:
            for task in ready:
                group.create_task(self._call(task))
        else:
            self._backlog.extend(ready)
            limit = self._limit or len(self._backlog)
            while self._backlog and self._running < limit:
                self._running += 1
                group.create_task(self._call(self._backlog.popleft()))
        skipped = self._scheduler.take_skipped()
        if skipped:
            now = time.perf_counter()
            for result in skipped:
                result.finished_at = now
                if self._emit is not None:
                    assert result.reason is not None
                    self._emit(
                        TaskSkipped(run_id=self.run_id, task=result.task, reason=result.reason)
                    )

    async def _call(self, task: PlanTask) -> None:
        scheduler = self._scheduler
        result = scheduler.results[task.id]
        result.started_at = time.perf_counter()
        key: tuple[str, str] | None = None
        try:
            try:
                args = scheduler.resolve(task)
            except FieldError as exc:  # "$1.price" where $1 has no price
                message = f"invalid arguments: {exc}"
                raise ToolError(task.tool, message, kind="invalid_arguments") from None
            tool = self._tools.get(task.tool)
            if tool is not None:
                args = fit_refs(task, args, tool, scheduler.values, self._producer)
            result.args = args
            if self._emit is not None:
                self._emit(
                    TaskStarted(run_id=self.run_id, task=task, at=result.started_at, args=args)
                )
            if tool is None:
                raise ToolError(task.tool, "no such tool", args=args, kind="unavailable")
            key = CallMemo.key(tool, args)
            earlier = self._memo.find(key) if key is not None else None
            if earlier is not None:  # the same call ran (or runs): take its result
                result.memo_of, done = earlier
                key = None
                value = await asyncio.shield(done)
            else:
                if key is not None:
                    self._memo.start(key, task.id)
                if self._emit is None:  # nobody to report progress to
                    value = await self.executor.run(tool, args)
                else:
                    with task_scope(self._emit, self.run_id, task):  # tools may report progress
                        value = await self.executor.run(tool, args)
                if key is not None:
                    self._memo.succeed(key, value)
        except Exception as exc:
            error = exc if isinstance(exc, ToolError) else _foreign(task, exc)
            if key is not None:
                self._memo.fail(key, error)
            end = result.finished_at = time.perf_counter()
            scheduler.fail(task.id, error)
            if self._emit is not None:
                self._emit(
                    TaskFailed(
                        run_id=self.run_id,
                        task=task,
                        at=end,
                        error=error,
                        duration=end - result.started_at,
                        memo_of=result.memo_of,
                    )
                )
        except asyncio.CancelledError:
            if key is not None:
                self._memo.fail(key, ToolError(task.tool, "the call was cancelled"))
            raise
        else:
            end = result.finished_at = time.perf_counter()
            scheduler.succeed(task.id, value)
            if self._emit is not None:
                self._emit(
                    TaskSucceeded(
                        run_id=self.run_id,
                        task=task,
                        at=end,
                        value=value,
                        duration=end - result.started_at,
                        memo_of=result.memo_of,
                    )
                )
        if self._limit is not None:
            self._running -= 1
        self._dispatch()


def _foreign(task: PlanTask, exc: Exception) -> ToolError:
    """An executor broke its contract (raised something else than ToolError)."""
    error = ToolError(task.tool, f"{type(exc).__name__}: {exc}", kind="exception")
    error.__cause__ = exc
    return error
