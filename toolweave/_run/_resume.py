"""Resuming a paused run: the state checked, each approval bound to its call, once.

A paused run's state may leave the process (a queue, a database, a browser) and come
back edited or twice. What a person approved is a pending call as it was shown: a
tool and its resolved arguments. So a resume

1. refuses a state that no run writes (`check_paused`): a pending call that is not a
   pending task or names another tool, a task that waits without a pending entry,
   a task that belongs to no plan, a task that depends on a later one;
2. rebuilds every approved call from the state (the planned arguments, the earlier
   values they refer to) and refuses the resume unless each is exactly the pending
   call approved (`bind`); the executor checks again, call by call, as it runs them
   (`Bound.allows`);
3. claims the pause, once (`ResumeLedger`): the paused result says ``resumed``, and a
   second resume of it, in this process or another that shares the ledger, is refused
   (a double click, two workers).

A state read back without its key (`RunResult.source` ``unsigned``) is refused unless
the caller says it never left their control (``trust_unsigned=True``): the checks
above cannot tell an edit of the pending calls themselves (what the person saw) from
the real thing, nor a pause re-armed under another id. The MAC of
`RunResult.to_json(key=...)` can.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolweave.errors import StateError, ToolError, UserError
from toolweave.fetcher import TaskResult, TaskState, fit_refs
from toolweave.plan import FieldError, PlanTask, resolve_args
from toolweave.result import RunResult
from toolweave.storage import canonical
from toolweave.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from toolweave._run._ledger import ResumeLedger

__all__ = [
    "Bound",
    "bind",
    "check_paused",
    "resumable_tasks",
    "resumed",
    "take_up",
]


@dataclass(frozen=True, slots=True)
class Bound:
    """An approval decision bound to the exact call it was given for."""

    approved: bool
    tool: str
    args: str
    """The call's validated arguments, canonical JSON (`toolweave.storage.canonical`)."""

    def allows(self, tool: str, args: Mapping[str, object]) -> bool:
        """Whether this decision is for this call, word for word."""
        return tool == self.tool and canonical(args) == self.args


def check_paused(result: RunResult, *, trust_unsigned: bool = False) -> None:
    """Refuse a paused state that no run could have written, or read without its key.

    Raises:
        StateError: It was read without a key (and `trust_unsigned` is off), it is not
            paused, or it contradicts itself.
    """
    if result.source == "unsigned" and not trust_unsigned:
        raise StateError(
            "this paused state was read without a key: whoever could edit it could have "
            "changed the calls shown for approval, or re-armed its pause. Sign it "
            "(to_json(key=...)) and read it with from_json(text, key=...); or, for a "
            "state that never left your control, resume(..., trust_unsigned=True)"
        )
    if result.status == "resumed":
        raise StateError(f"run {result.run_id} was resumed already: a pause resumes once")
    if result.status != "paused":
        raise StateError(f"only a paused run can be resumed; this one is {result.status}")
    if not result.pending or result.pause_id is None:
        raise StateError("a paused state has pending calls and a pause id; this one has not")
    if not result.plans:
        raise StateError("a paused state has a plan; this one has none")
    planned = {tid for plan in result.plans for tid in plan.task_ids}
    waiting = {call.id: call for call in result.pending}
    for tid, record in result.tasks.items():
        task = record.task
        if tid not in planned:
            raise StateError(f"task {tid} belongs to no plan of the state")
        if record.state is TaskState.RUNNING:
            raise StateError(f"task {tid} is running in a paused state")
        if (record.state is TaskState.PENDING) != (tid in waiting):
            raise StateError(f"task {tid} is {record.state.value}, against the pending calls")
        if any(dep >= tid for dep in task.deps):
            raise StateError(f"task {tid} depends on a later task")
        if tid in waiting and waiting[tid].tool != task.tool:
            raise StateError(
                f"pending call {tid} is {waiting[tid].tool}, but its task calls {task.tool}"
            )


def bind(
    result: RunResult,
    approvals: Mapping[int, bool],
    tools: ToolRegistry,
    values: Mapping[int, object],
) -> dict[int, Bound]:
    """Each decision bound to its pending call, once the state is shown to rebuild it.

    The call a resume would make is rebuilt as the run makes it (refs resolved from
    `values`, fitted, validated) and must be the pending call the decision was for.

    Raises:
        StateError: A rebuilt call differs from its pending call.
        UserError: A decision is not a bool, or names no pending call.
    """
    pending = {call.id: call for call in result.pending}
    unknown = set(approvals) - set(pending)
    if unknown:
        raise UserError(
            f"no pending call has id {sorted(unknown)}; the pending ids are {sorted(pending)}"
        )
    bound: dict[int, Bound] = {}
    for tid, approved in approvals.items():
        if not isinstance(approved, bool):
            raise UserError(f"the decision for call {tid} must be True or False: {approved!r}")
        call, task = pending[tid], result.tasks[tid].task
        tool = tools.get(task.tool)
        if tool is None:
            raise StateError(f"pending call {tid} is to {task.tool}, which this agent lacks")
        try:
            args = resolve_args(task.args, values)
            producer = _producer(result, tools)
            kwargs = tool.validate(fit_refs(task, args, tool, values, producer))
        except (KeyError, FieldError, ToolError) as exc:
            raise StateError(f"pending call {tid} cannot be rebuilt from the state: {exc}") from exc
        if canonical(kwargs) != canonical(call.args):
            raise StateError(
                f"the state does not match what was approved: call {tid} would run "
                f"{task.tool}({canonical(kwargs)}), the pending call is "
                f"{call.tool}({canonical(call.args)})"
            )
        bound[tid] = Bound(approved, call.tool, canonical(call.args))
    return bound


def _producer(result: RunResult, tools: ToolRegistry) -> Callable[[int], Tool | None]:
    """The tool that made a task's value (its declared fields fit refs to parameters)."""

    def producer(task_id: int) -> Tool | None:
        record = result.tasks.get(task_id)
        return None if record is None else tools.get(record.task.tool)

    return producer


def resumable_tasks(tasks: Mapping[int, TaskResult], pending: set[int]) -> list[PlanTask]:
    """The tasks a resume runs: the waiting calls, then what was put aside after them.

    A skipped task comes back when it waited (directly or not) on a pending call and
    on nothing that failed; in id order, so every task's inputs come before it.
    """
    again: set[int] = set()
    out: list[PlanTask] = []
    for tid in sorted(tasks):
        record = tasks[tid]
        task = record.task
        if tid in pending:
            again.add(tid)
            out.append(task)
        elif record.state is TaskState.SKIPPED and task.deps & again:
            inputs_ok = all(
                d in again
                or (d in tasks and tasks[d].state is TaskState.SUCCEEDED)
                or d not in tasks  # a session's earlier value
                for d in task.deps
            )
            if inputs_ok:
                again.add(tid)
                out.append(task)
    return out


def resumed(paused: RunResult, *, trust_unsigned: bool = False) -> RunResult:
    """A copy of a paused run to go on with, its clock moved to now (the pause left out)."""
    check_paused(paused, trust_unsigned=trust_unsigned)
    result = RunResult.from_dict(paused.to_dict())  # a copy: the caller's keeps its record
    for record, old in zip(result.tasks.values(), paused.tasks.values(), strict=True):
        record.value = old.value  # in-process, values keep their Python types
    shift = time.perf_counter() - result.finished_at
    result.started_at += shift
    result.finished_at += shift
    for record in result.tasks.values():
        if record.started_at is not None:
            record.started_at += shift
        if record.finished_at is not None:
            record.finished_at += shift
    for call in result.calls:
        call.started_at += shift
        call.finished_at += shift
        if call.first_token_at is not None:
            call.first_token_at += shift
    result.status, result.error = "running", None
    result.source = "run"  # checked above; from here it is this process's own record
    return result


async def take_up(
    paused: RunResult, result: RunResult, decisions: dict[int, Bound], ledger: ResumeLedger
) -> dict[int, Bound]:
    """Claim `paused`'s pause for `result`, its copy that goes on: once, ever.

    Raises:
        StateError: The pause was resumed already (here, or by another process).
    """
    pause_id = result.pause_id
    assert pause_id is not None
    claimed = await asyncio.to_thread(ledger.claim, pause_id, result.run_id)
    paused.status = "resumed"  # by this call, or by the one that claimed it first
    if not claimed:
        raise StateError(
            f"run {result.run_id} was resumed already (pause {pause_id}): a pause resumes once"
        )
    result.pause_id = None
    return decisions
