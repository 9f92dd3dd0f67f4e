"""`Scheduler`: the task fetching unit's bookkeeping, sans-IO and incremental.

Shaped like `graphlib.TopologicalSorter`, except that tasks keep arriving while others
run (the plan streams in), and a failure skips everything downstream of it. No I/O, no
clock, no waiting: the driver tells it what happened and asks what may run now.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from toolweave.errors import PlanError, ToolError, UserError
from toolweave.plan import PlanTask, resolve_args

__all__ = ["Scheduler", "TaskResult", "TaskState"]


class TaskState(enum.StrEnum):
    """Where a task is in its life."""

    PENDING = "pending"
    """Added; waiting for its inputs, or for `ready()` to hand it out."""
    RUNNING = "running"
    """Handed out by `ready()`; its call is under way."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Will never run: a task it depends on failed, was skipped, or was rejected."""

    @property
    def done(self) -> bool:
        """Whether the task has reached a final state."""
        return self in _FINAL


_FINAL = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED})


@dataclass(slots=True)
class TaskResult:
    """What became of one task.

    Attributes:
        task: The task.
        state: Its state.
        args: Its arguments with refs resolved, once it started.
        value: The tool's return value, once succeeded.
        error: Why it failed, once failed.
        reason: Why it was skipped, once skipped.
        started_at: When its call started (`time.perf_counter()`), if it did.
        finished_at: When it reached a final state, if it has.
        memo_of: The earlier task whose identical call gave this task its outcome,
            when the call was memoised instead of run again.
    """

    task: PlanTask
    state: TaskState = TaskState.PENDING
    args: dict[str, object] | None = None
    value: object = None
    error: ToolError | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    memo_of: int | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, for a task that ran."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class Scheduler:
    """Incremental DAG bookkeeping for a streaming plan.

    Args:
        values: Results of tasks from earlier plans of the same run, by id; new tasks
            may depend on them.

    Example:
        ```python
        scheduler = Scheduler()
        scheduler.add(task)              # as each task arrives
        for task in scheduler.ready():   # whenever something changed
            start(task, scheduler.resolve(task))
        scheduler.succeed(task.id, value)  # or .fail(task.id, error)
        scheduler.close()                # the plan is complete
        scheduler.finished               # closed, and every task is done
        ```
    """

    def __init__(self, values: Mapping[int, object] | None = None) -> None:
        self._values: dict[int, object] = dict(values or {})
        self._results: dict[int, TaskResult] = {}
        self._blocked: dict[int, str] = {}  # id -> why tasks that need it cannot run
        self._waiting: dict[int, int] = {}  # id -> inputs not yet available
        self._dependents: dict[int, list[int]] = {}
        self._ready: list[PlanTask] = []
        self._skipped: list[TaskResult] = []
        self._unfinished = 0
        self._closed = False

    @property
    def results(self) -> Mapping[int, TaskResult]:
        """Every task added, by id."""
        return self._results

    @property
    def finished(self) -> bool:
        """Closed, and every task added has reached a final state."""
        return self._closed and self._unfinished == 0

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    def add(self, task: PlanTask) -> None:
        """Add a task; its dependencies must have been added (or given) before.

        A task whose inputs already exist becomes ready; one that depends on a failed,
        skipped or rejected task is skipped at once (see `take_skipped`).

        Raises:
            UserError: After `close()`, on a duplicate id, or on an unknown dependency.
        """
        if self._closed:
            raise UserError("cannot add tasks to a closed scheduler")
        tid = task.id
        if tid in self._results or tid in self._values or tid in self._blocked:
            raise UserError(f"task id {tid} is already taken")
        missing = 0
        blocked: str | None = None
        for dep in task.deps:
            if dep in self._values:
                continue
            if dep in self._blocked:
                blocked = self._blocked[dep]
            elif dep not in self._results:
                raise UserError(f"task {tid} depends on task {dep}, which was never added")
            missing += 1
        result = self._results[tid] = TaskResult(task)
        self._unfinished += 1
        if blocked is not None:
            self._skip(result, blocked)
        elif missing == 0:
            self._ready.append(task)
        else:
            self._waiting[tid] = missing
            for dep in task.deps:
                if dep not in self._values:
                    self._dependents.setdefault(dep, []).append(tid)

    def reject(self, error: PlanError) -> None:
        """Record a plan line that was rejected; the tasks that depend on it are skipped."""
        if error.task_id is None:
            return
        if error.task_id in self._results or error.task_id in self._values:
            raise UserError(f"task id {error.task_id} is already taken")
        self._blocked[error.task_id] = f"task {error.task_id} was rejected: {error.reason}"

    def ready(self) -> list[PlanTask]:
        """Hand out every task whose inputs exist and that was not handed out yet."""
        ready, self._ready = self._ready, []
        results = self._results
        for task in ready:
            results[task.id].state = TaskState.RUNNING
        return ready

    def succeed(self, task_id: int, value: object) -> None:
        """Record a task's value; tasks waiting for it may become ready."""
        result = self._running(task_id)
        result.state = TaskState.SUCCEEDED
        result.value = value
        self._values[task_id] = value
        self._unfinished -= 1
        for dep_id in self._dependents.pop(task_id, ()):
            left = self._waiting.get(dep_id)
            if left is None:
                continue  # skipped meanwhile
            if left == 1:
                del self._waiting[dep_id]
                self._ready.append(self._results[dep_id].task)
            else:
                self._waiting[dep_id] = left - 1

    def fail(self, task_id: int, error: ToolError) -> None:
        """Record a task's failure and skip every task downstream of it."""
        result = self._running(task_id)
        result.state = TaskState.FAILED
        result.error = error
        self._unfinished -= 1
        reason = f"task {task_id} ({result.task.tool}) failed: {error.message}"
        self._blocked[task_id] = reason
        self._skip_downstream(task_id, reason)

    def close(self) -> None:
        """No more tasks will be added."""
        self._closed = True

    def take_skipped(self) -> list[TaskResult]:
        """The tasks skipped since the last call, in the order they were skipped."""
        skipped, self._skipped = self._skipped, []
        return skipped

    def resolve(self, task: PlanTask) -> dict[str, object]:
        """The task's arguments with every ref replaced by the producer's value."""
        return resolve_args(task.args, self._values)

    @property
    def values(self) -> Mapping[int, object]:
        """The values of every succeeded task, earlier plans' included."""
        return self._values

    # -- internals ------------------------------------------------------------------

    def _running(self, task_id: int) -> TaskResult:
        result = self._results.get(task_id)
        if result is None or result.state is not TaskState.RUNNING:
            state = "unknown" if result is None else result.state.value
            raise UserError(f"task {task_id} is not running (it is {state})")
        return result

    def _skip(self, result: TaskResult, reason: str) -> None:
        result.state = TaskState.SKIPPED
        result.reason = reason
        self._unfinished -= 1
        self._blocked[result.task.id] = reason
        self._skipped.append(result)

    def _skip_downstream(self, task_id: int, reason: str) -> None:
        stack = list(self._dependents.pop(task_id, ()))
        while stack:
            dep_id = stack.pop()
            if self._waiting.pop(dep_id, None) is None:
                continue  # already skipped through another path
            self._skip(self._results[dep_id], reason)
            stack.extend(self._dependents.pop(dep_id, ()))
