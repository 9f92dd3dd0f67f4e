"""Typed run events: what happened, to which run, and when.

Every event is a frozen record with the run's id and a monotonic timestamp
(`time.perf_counter`, seconds). The CLI, the REPL, tracing and the eval harness all
consume the same stream; none of them reaches into internals.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from toolweave.errors import PlanError, ToolError
from toolweave.models import Usage
from toolweave.plan import PlanTask

if TYPE_CHECKING:
    from toolweave.planner import Decision
    from toolweave.result import RunResult
    from toolweave.retrieval import ScoredTool

__all__ = [
    "ApprovalRequested",
    "Event",
    "EventQueue",
    "EventSink",
    "JoinDecided",
    "PlanFinished",
    "PlanRejectedLine",
    "ProgressReporter",
    "Replanned",
    "RunEvents",
    "RunFinished",
    "RunStarted",
    "TaskEvent",
    "TaskFailed",
    "TaskPlanned",
    "TaskProgress",
    "TaskSkipped",
    "TaskStarted",
    "TaskSucceeded",
    "ToolsRetrieved",
    "progress_reporter",
    "report_progress",
    "task_scope",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event.

    Attributes:
        run_id: The run the event belongs to.
        at: When it happened (`time.perf_counter()` seconds).
    """

    run_id: str = ""
    at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(Event):
    """An event about one task."""

    task: PlanTask


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPlanned(TaskEvent):
    """A task arrived from the plan (it may wait for its inputs)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(TaskEvent):
    """A task's inputs exist and its tool call started, with these resolved arguments."""

    args: dict[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskProgress(TaskEvent):
    """A running tool call reported how far it got (an MCP server's progress, say).

    Attributes:
        progress: How much is done, in the tool's own unit; it only grows.
        total: How much there is to do, when the tool knows.
        message: What it is doing now, in words.
    """

    progress: float
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSucceeded(TaskEvent):
    """A tool call returned.

    Attributes:
        memo_of: Set when the call was not run again: the earlier task of the run
            whose identical call (same tool and arguments) gave this value.
    """

    value: object
    duration: float
    memo_of: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(TaskEvent):
    """A tool call failed; the tasks downstream of it are skipped.

    Attributes:
        memo_of: Set when this task waited for an identical call in flight, which
            failed: the task that made that call.
    """

    error: ToolError
    duration: float
    memo_of: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequested(TaskEvent):
    """A destructive call waits for an approval nobody has given yet: the run will pause.

    The task is not done: `Agent.resume` runs it (or refuses it) with the decision.
    """

    args: dict[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSkipped(TaskEvent):
    """A task will not run, because a task it depends on failed or was rejected."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRejectedLine(Event):
    """A line of the plan was unusable; the tasks that depend on it are skipped."""

    error: PlanError


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    """A run began: the request, the model, the tools offered to the planner."""

    request: str
    model: str
    tools: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolsRetrieved(Event):
    """The retriever chose the tools offered to the planner for the next plan."""

    query: str
    hits: tuple[ScoredTool, ...]
    duration: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFinished(Event):
    """The planner's stream ended (the plan's tasks may still be running)."""

    index: int
    text: str
    task_ids: tuple[int, ...]
    rejected: int
    usage: Usage
    duration: float
    cut: str | None = None
    """Why the parser ended the plan before its end (it began to loop), if it did."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinDecided(Event):
    """The joiner read the results and decided to finish or to replan."""

    decision: Decision
    usage: Usage
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Replanned(Event):
    """A new plan starts, for the joiner's reason; its index counts from 1."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    """The run ended, however: the result holds the answer or what went wrong."""

    result: RunResult


EventSink = Callable[[Event], None]
"""A consumer of events; called synchronously, in causal order, on the run's loop."""


_Scope = tuple[EventSink, str, PlanTask, asyncio.AbstractEventLoop]
_current: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "toolweave_current_task", default=None
)


def task_scope(sink: EventSink | None, run_id: str, task: PlanTask) -> _TaskScope:
    """Make `report_progress` calls within this block events of `task` (for executors)."""
    return _TaskScope((sink, run_id, task, asyncio.get_running_loop()) if sink else None)


class _TaskScope:
    """`task_scope`'s context manager: a class, as it wraps every tool call."""

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: _Scope | None) -> None:
        self._scope = scope

    def __enter__(self) -> None:
        self._token = _current.set(self._scope)

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


ProgressReporter = Callable[[float, float | None, str | None], None]
"""Reports a tool call's progress: how much is done, of how much, and what it is doing."""


def progress_reporter() -> ProgressReporter:
    """A function that reports progress for the tool call running in this context.

    The function may be called later from another context or thread (a client
    library's callback, a worker thread) and still reports to the same task; outside a
    task of a run with an event consumer it does nothing.
    """
    current = _current.get()
    if current is None:
        return _ignore
    sink, run_id, task, loop = current

    def report(progress: float, total: float | None = None, message: str | None = None) -> None:
        event = TaskProgress(
            run_id=run_id, task=task, progress=progress, total=total, message=message
        )
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:  # a worker thread: no loop runs here
            on_loop = False
        if on_loop:
            sink(event)
        else:
            loop.call_soon_threadsafe(sink, event)

    return report


def report_progress(
    progress: float, total: float | None = None, message: str | None = None
) -> None:
    """Report the progress of the tool call running in this context, as a `TaskProgress`.

    A tool calls it while it runs, on the run's loop or from a sync tool's worker
    thread; outside a task of a run with an event consumer it does nothing.

    Args:
        progress: How much is done, in the tool's own unit.
        total: How much there is to do, if known.
        message: What the tool is doing now.
    """
    progress_reporter()(progress, total, message)


def _ignore(progress: float, total: float | None = None, message: str | None = None) -> None:
    """Progress outside a task goes nowhere."""


EventQueue: TypeAlias = asyncio.Queue[Event | BaseException | None]
"""A run's events, then the error that ended it (if one did), then `None`."""


class RunEvents:
    """The events of a run in flight, as `Agent.stream` hands them out.

    Attributes:
        result: The run's result, filled in as the run goes; final once the
            ``async with`` block has exited, however it exited (cancelled included).
    """

    def __init__(self, queue: EventQueue, result: RunResult) -> None:
        self._queue = queue
        self.result = result

    def __aiter__(self) -> RunEvents:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # stay exhausted
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item
