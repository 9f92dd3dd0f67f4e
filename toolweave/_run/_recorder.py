"""The run's record, built from its own events: sans-IO, fed one event at a time.

However a run ends (an answer, a budget, an error, a cancellation), its `RunResult`
keeps what finished, because every change of a task's state is an event and the record
follows the events. Feed it events and read `result`: no loop, no clock, no I/O.
"""

from __future__ import annotations

import time

from toolweave._run._approval import hold
from toolweave._run._replan import REPEATED_PLAN
from toolweave.errors import ApprovalPending, PlanError
from toolweave.events import (
    Event,
    JoinDecided,
    PlanFinished,
    RunFinished,
    TaskFailed,
    TaskPlanned,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from toolweave.fetcher import TaskResult, TaskState
from toolweave.planner import JoinReply, PlanDraft
from toolweave.result import ModelCall, PlanRecord, RunResult, RunStatus

__all__ = ["Recorder"]


class Recorder:
    """Keeps `result` up to date with the run's events.

    Args:
        result: The record to keep (a new run's, or a resumed one's).
    """

    def __init__(self, result: RunResult) -> None:
        self.result = result

    def record(self, event: Event) -> Event:
        """Apply `event` to the record; returns the event to pass on.

        A call refused for want of an approval is not failed: it waits, its task
        stays pending and the run will pause, so `ApprovalRequested` goes on instead.
        """
        tasks = self.result.tasks
        if isinstance(event, TaskFailed) and isinstance(event.error, ApprovalPending):
            return hold(self.result, event)
        if isinstance(event, TaskPlanned):
            tasks[event.task.id] = TaskResult(event.task)
        elif isinstance(event, TaskStarted):
            record = tasks[event.task.id]
            record.state, record.started_at, record.args = TaskState.RUNNING, event.at, event.args
        elif isinstance(event, TaskSucceeded | TaskFailed | TaskSkipped):
            record = tasks[event.task.id]
            record.finished_at = event.at
            if isinstance(event, TaskSucceeded):
                record.state, record.value = TaskState.SUCCEEDED, event.value
                record.memo_of = event.memo_of
            elif isinstance(event, TaskFailed):
                record.state, record.error = TaskState.FAILED, event.error
                record.memo_of = event.memo_of
            else:
                record.state, record.reason = TaskState.SKIPPED, event.reason
        return event

    def plan_finished(self, plan: PlanRecord, draft: PlanDraft, repeated: bool) -> PlanFinished:
        """Record the plan as written; one that repeats the previous plan is cut whole.

        Args:
            plan: The plan's record, already in `result.plans`.
            draft: What the planner wrote.
            repeated: It repeated the previous plan: none of it ran.
        """
        result = self.result
        plan.text = draft.text
        plan.task_ids = [] if repeated else [t.id for t in draft.tasks]
        plan.rejected, plan.cut = list(draft.rejected), draft.cut
        if repeated:
            plan.cut = PlanError(REPEATED_PLAN)
        finished = draft.finished_at or time.perf_counter()
        result.calls.append(
            ModelCall(
                "planner", draft.usage, draft.started_at, finished, draft.first_token_at, draft.text
            )
        )
        return PlanFinished(
            run_id=result.run_id,
            index=plan.index,
            text=plan.text,
            task_ids=tuple(plan.task_ids),
            rejected=len(plan.rejected),
            cut=None if plan.cut is None else plan.cut.reason,
            usage=draft.usage,
            duration=finished - draft.started_at,
        )

    def join_decided(self, reply: JoinReply) -> JoinDecided:
        """Record the joiner's call and its thought."""
        result = self.result
        result.calls.append(
            ModelCall("joiner", reply.usage, reply.started_at, reply.finished_at, text=reply.text)
        )
        result.thought = reply.decision.thought
        return JoinDecided(
            run_id=result.run_id,
            decision=reply.decision,
            usage=reply.usage,
            duration=reply.finished_at - reply.started_at,
        )

    def finished(self, status: RunStatus, error: str | None, at: float) -> RunFinished:
        """Close the record: its status, and the calls cut short by the end of the run.

        A call that waits for its approval stays pending: the run paused for it.
        """
        result = self.result
        result.status, result.error = status, error
        result.finished_at = at
        waiting = {call.id for call in result.pending}
        for record in result.tasks.values():
            if not record.state.done and record.task.id not in waiting:
                record.state, record.reason = TaskState.SKIPPED, f"not finished: {error}"
                record.finished_at = at
        return RunFinished(run_id=result.run_id, result=result)
