"""What a replan is given: the run's earlier plans, and the tools it may call.

Also the one rule about replans decided in code: `converges`, whether a plan ends in
one task that every other task of the plan feeds (then, if every call succeeded, the
joiner must answer rather than plan again).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from toolweave.plan import PlanTask
from toolweave.planner import EarlierPlan
from toolweave.planner._planner import kept_text

if TYPE_CHECKING:
    from toolweave._result import RunResult
    from toolweave.tools import Retriever, ScoredTool, Tool, ToolRegistry

__all__ = ["converges", "earlier_plans", "tools_for_reason"]

_WORD = re.compile(r"[A-Za-z_][\w.-]*")


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


def tools_for_reason(
    offered: Sequence[Tool], reason: str, registry: ToolRegistry, retriever: Retriever
) -> tuple[list[Tool], list[ScoredTool]]:
    """Tools to add to a replan: those the reason names, and retrieval's top 2 for it.

    Only tools not offered yet; the offered ones stay, in their order, so that the
    planner's prompt prefix (and the endpoint's cache of it) stays the same.
    """
    names = {t.name for t in offered}
    named = [t for n in sorted(set(_WORD.findall(reason)) - names) if (t := registry.get(n))]
    hits = [h for h in retriever.search(reason, 2, split=False) if h.tool.name not in names]
    added = {t.name: t for t in [*named, *(h.tool for h in hits)]}
    return list(added.values()), hits


def converges(tasks: Sequence[PlanTask]) -> bool:
    """Whether the plan ends in its last task, which every other task feeds."""
    if not tasks:
        return False
    used = set().union(*(t.deps for t in tasks))
    return all(t.id in used for t in tasks[:-1])
