"""Approvals that can wait: pausing a run on a destructive call, and resuming it.

An approver that answers ``None`` (or ``approve="pause"``) means "nobody has decided
yet": the executor raises `ApprovalPending`, the call's task waits (state ``pending``),
the tasks downstream of it are put aside, and everything else runs to its end. The run
then ends ``paused`` with its `pending` calls, and round-trips through JSON.

`Agent.resume(result, approvals={call_id: bool})` runs the waiting calls again with
their decisions, and the tasks put aside after them, never a task that finished
(`toolweave._run._resume` checks the state and binds each decision to its call). The
decisions are keyed by task id: the run marks each call's asyncio task with its id
(`CALL_ID`, set as the call starts), and the approver looks the decision up by it, so
parallel calls never take each other's answer; a decision applies only to the call it
was bound to, the same tool with the same arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Literal, TypeAlias

from toolweave._run._resume import Bound
from toolweave.errors import ToolError
from toolweave.events import ApprovalRequested, TaskFailed
from toolweave.fetcher import TaskState
from toolweave.result import PendingCall, RunResult
from toolweave.tools import Tool

__all__ = ["CALL_ID", "DECISIONS", "Approve", "approval_gate", "hold"]

Verdict: TypeAlias = bool | None
Approve: TypeAlias = (
    Callable[[Tool, Mapping[str, object]], Verdict | Awaitable[Verdict]] | Literal["pause"]
)
"""An `Agent`'s ``approve``: a callback (``None`` from it pauses the run), or ``"pause"``."""

CALL_ID: ContextVar[int | None] = ContextVar("toolweave_call_id", default=None)
"""The id of the task whose tool call runs in the current asyncio task."""

DECISIONS: ContextVar[Mapping[int, Bound]] = ContextVar(
    "toolweave_decisions", default=MappingProxyType({})
)
"""Approvals given to a resumed run, by task id, each bound to its call (never mutated)."""


def approval_gate(
    approve: Approve,
) -> Callable[[Tool, Mapping[str, object]], Awaitable[Verdict]]:
    """An executor's approver: the resumed run's decision for this call, else `approve`.

    A decision made for another call (another tool, other arguments) refuses this one.
    """

    async def gate(tool: Tool, args: Mapping[str, object]) -> Verdict:
        call_id = CALL_ID.get()
        decisions = DECISIONS.get()
        if call_id is not None and call_id in decisions:
            decision = decisions[call_id]
            if not decision.allows(tool.name, args):
                raise ToolError(
                    tool.name,
                    "refused: this is not the call that was approved",
                    args=args,
                    kind="refused",
                )
            return decision.approved
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
