"""Approvals that can wait: pausing a run on a destructive call, and resuming it.

An approver that answers ``None`` (or ``approve="pause"``) means "nobody has decided
yet": the executor raises `ApprovalPending`, the call's task waits (state ``pending``),
the tasks downstream of it are put aside, and everything else runs to its end. The run
then ends ``paused`` with its `pending` calls, and round-trips through JSON.

`Agent.resume(result, approvals={call_id: bool})` runs the waiting calls again with
their decisions, and the tasks put aside after them, never a task that finished. The
decisions are keyed by task id: the run marks each call's asyncio task with its id
(`CALL_ID`, set as the call starts), and the approver looks the decision up by it, so
parallel calls never take each other's answer.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Literal, TypeAlias

from toolweave._result import PendingCall, RunResult
from toolweave.errors import UserError
from toolweave.events import ApprovalRequested, TaskFailed
from toolweave.fetcher import TaskResult, TaskState
from toolweave.plan import PlanTask
from toolweave.tools import Tool

__all__ = ["CALL_ID", "DECISIONS", "Approve", "approval_gate", "hold", "resumable_tasks", "resumed"]

Verdict: TypeAlias = bool | None
Approve: TypeAlias = (
    Callable[[Tool, Mapping[str, object]], Verdict | Awaitable[Verdict]] | Literal["pause"]
)
"""An `Agent`'s ``approve``: a callback (``None`` from it pauses the run), or ``"pause"``."""

CALL_ID: ContextVar[int | None] = ContextVar("toolweave_call_id", default=None)
"""The id of the task whose tool call runs in the current asyncio task."""

DECISIONS: ContextVar[Mapping[int, bool]] = ContextVar(
    "toolweave_decisions", default=MappingProxyType({})
)
"""Approvals given to a resumed run, by task id (the mapping is never mutated)."""


def approval_gate(
    approve: Approve,
) -> Callable[[Tool, Mapping[str, object]], Awaitable[Verdict]]:
    """An executor's approver: the resumed run's decision for this call, else `approve`."""

    async def gate(tool: Tool, args: Mapping[str, object]) -> Verdict:
        call_id = CALL_ID.get()
        decisions = DECISIONS.get()
        if call_id is not None and call_id in decisions:
            return decisions[call_id]
        if approve == "pause":
            return None
        verdict = approve(tool, args)
        return await verdict if inspect.isawaitable(verdict) else verdict

    return gate


def hold(result: RunResult, event: TaskFailed) -> ApprovalRequested:
    """A call that waits for approval: its task stays pending, and the run notes it."""
    record = result.tasks[event.task.id]
    record.state, record.args = TaskState.PENDING, dict(event.error.arguments)
    result.pending.append(PendingCall(event.task.id, event.task.tool, record.args))
    return ApprovalRequested(run_id=event.run_id, task=event.task, at=event.at, args=record.args)


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


def resumed(paused: RunResult, approvals: Mapping[int, bool]) -> RunResult:
    """A copy of a paused run to go on with, its clock moved to now (the pause left out)."""
    if paused.status != "paused":
        raise UserError(f"only a paused run can be resumed; this one is {paused.status}")
    waiting = {call.id for call in paused.pending}
    unknown = set(approvals) - waiting
    if unknown:
        raise UserError(
            f"no pending call has id {sorted(unknown)}; the pending ids are {sorted(waiting)}"
        )
    result = RunResult.from_dict(paused.to_dict())  # a copy: the caller's stays as it was
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
    return result
