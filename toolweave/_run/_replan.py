"""Replans: what one is given (the earlier plans, the tools), and the rules in code.

`converges`: whether a plan ends in one task that every other task of the plan feeds
(then, if every call succeeded, the joiner must answer rather than plan again).
`guarded`: a replan that repeats the previous plan call for call does not run; the
joiner answers from the earlier results, as it does after a replan whose every call
was memoised (`nothing_new`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolweave.errors import ModelError, ToolweaveError
from toolweave.fetcher import TaskState
from toolweave.plan import PlanItem, PlanTask
from toolweave.planner import EarlierPlan, PlanDraft
from toolweave.planner._planner import kept_text
from toolweave.planner._shape import PlanShape

if TYPE_CHECKING:
    from toolweave.models import Message
    from toolweave.result import PlanRecord, RunResult

__all__ = [
    "REPEATED_PLAN",
    "PlanGuard",
    "converges",
    "conversation",
    "earlier_plans",
    "guarded",
    "nothing_new",
    "stream_failure",
    "unavailable",
]


def earlier_plans(result: RunResult) -> list[EarlierPlan]:
    """The run's plans before its current one: the replan's conversation.

    Each comes with its results, its rejected lines, and the reason the joiner gave
    for the plan after it; a plan cut where it began to loop, with its text up to there.
    """
    plans = result.plans
    return [
        EarlierPlan(
            kept_text(plan.text, plan.cut),
            [result.tasks[t] for t in plan.task_ids if t in result.tasks],
            plan.rejected,
            plans[i + 1].reason,
        )
        for i, plan in enumerate(plans[:-1])
    ]


def converges(tasks: Sequence[PlanTask]) -> bool:
    """Whether the plan ends in its last task, which every other task feeds."""
    if not tasks:
        return False
    used = set().union(*(t.deps for t in tasks))
    return all(t.id in used for t in tasks[:-1])


@dataclass(slots=True)
class PlanGuard:
    """What `guarded` found: the plan went over `max_tasks`, or repeated the last one."""

    over_budget: bool = False
    repeated: bool = False


async def guarded(
    draft: PlanDraft,
    previous: PlanShape | None,
    guard: PlanGuard,
    max_tasks: int,
    *,
    on_end: Callable[[bool], None],
) -> AsyncIterator[PlanItem]:
    """The plan's items, with two checks on the way to the fetcher.

    A task beyond `max_tasks` ends the plan. Tasks that repeat the `previous` plan
    call for call are held back: if the whole plan turns out a repeat, none of it
    runs; at the first difference, the held tasks go out. When the model's stream
    ends, ``on_end(repeated)`` records the plan while its tasks run.
    """
    held: list[PlanTask] = []
    shape = PlanShape()
    matching = previous is not None and len(previous) > 0
    count = 0
    try:
        async for item in draft:
            if isinstance(item, PlanTask):
                count += 1
                if count > max_tasks:
                    guard.over_budget = True
                    break
                shape.add(item)
            if matching:
                assert previous is not None
                if isinstance(item, PlanTask) and shape.matches_prefix(previous):
                    held.append(item)
                    continue
                matching = False
                for task in held:
                    yield task
                held.clear()
            yield item
    finally:
        await draft.aclose()
        guard.repeated = matching and bool(held) and len(held) == len(previous or ())
        on_end(guard.repeated)
    if guard.repeated:
        return
    for task in held:
        yield task


REPEATED_PLAN = "the new plan repeats the previous one call for call; none of it ran"


def nothing_new(result: RunResult, plan: PlanRecord) -> bool:
    """Whether a replan only repeated earlier calls, each of its tasks memoised.

    The joiner would read what it read before: it must answer from it.
    """
    return bool(plan.index and plan.task_ids and not plan.rejected) and all(
        result.tasks[t].memo_of is not None for t in plan.task_ids if t in result.tasks
    )


def unavailable(result: RunResult) -> dict[int, str]:
    """The earlier tasks that have no value, and why: a new plan cannot use them."""
    out: dict[int, str] = {}
    for tid, record in result.tasks.items():
        if record.state is TaskState.FAILED and record.error is not None:
            out[tid] = f"task {tid} ({record.task.tool}) failed: {record.error.message}"
        elif record.state is TaskState.SKIPPED:
            out[tid] = f"task {tid} ({record.task.tool}) was skipped: {record.reason}"
    return out


def conversation(draft: PlanDraft | None) -> list[Message]:
    """The planner's conversation, ending with its plan (none if it kept no messages)."""
    if draft is None or not draft.messages:
        return []
    text = draft.kept_text.strip() or "join()"  # a plan cut at a loop ends before it
    return [*draft.messages, {"role": "assistant", "content": text}]


def stream_failure(error: Exception) -> ToolweaveError:
    """The plan's stream broke: that is the run's end, never a plan to answer from.

    A model or transport failure is a `ModelError`; anything else (a bug in a planner
    given to the agent) fails the run as such. The lines that arrived before it ran.
    """
    if isinstance(error, ToolweaveError):
        return error
    if isinstance(error, OSError | TimeoutError | EOFError):
        failure: ToolweaveError = ModelError(
            f"the plan stream failed: {type(error).__name__}: {error}"
        )
    else:
        failure = ToolweaveError(f"the planner failed: {type(error).__name__}: {error}")
    failure.__cause__ = error
    return failure
