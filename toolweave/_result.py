"""`RunResult`: everything a run did, kept whole however the run ended."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from toolweave.errors import PlanError
from toolweave.fetcher import TaskResult, TaskState
from toolweave.models import Usage
from toolweave.plan import render_text

__all__ = ["ModelCall", "PlanRecord", "RunResult"]


@dataclass(slots=True)
class ModelCall:
    """One model call of a run: who made it, what it cost, how long it took."""

    role: Literal["planner", "joiner", "decomposer"]
    usage: Usage
    started_at: float
    finished_at: float
    first_token_at: float | None = None
    text: str = ""

    @property
    def duration(self) -> float:
        """Seconds from the request to the last token."""
        return self.finished_at - self.started_at


@dataclass(slots=True)
class PlanRecord:
    """One plan of a run (the first, or a replan).

    Attributes:
        index: 0 for the first plan, then 1, 2, ... for replans.
        text: The model's reply, as written.
        task_ids: The ids of the tasks it produced.
        rejected: Its lines that were rejected.
        reason: For a replan, the joiner's reason for it.
    """

    index: int
    text: str = ""
    task_ids: list[int] = field(default_factory=list)
    rejected: list[PlanError] = field(default_factory=list)
    reason: str | None = None


RunStatus = Literal["running", "finished", "budget_exceeded", "failed", "cancelled"]


@dataclass(slots=True)
class RunResult:
    """What a run did: the answer, every task, every plan, every model call.

    Attributes:
        run_id: The run's id, as on its events.
        request: The user's request.
        answer: The final answer, when the run finished.
        thought: The joiner's last thought.
        status: ``running`` until the run ends; then ``finished`` (an answer),
            ``budget_exceeded``, ``failed`` or ``cancelled``.
        error: Why it did not finish, in words.
        tasks: Every task of every plan, by id, with state, value or error, timings.
        plans: Every plan, in order.
        calls: Every model call, in order.
        started_at: When the run started (`time.perf_counter()`).
        finished_at: When it ended.
    """

    run_id: str
    request: str
    answer: str | None = None
    thought: str | None = None
    status: RunStatus = "running"
    error: str | None = None
    tasks: dict[int, TaskResult] = field(default_factory=dict)
    plans: list[PlanRecord] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def usage(self) -> Usage:
        """Tokens of every model call, added up."""
        return sum((call.usage for call in self.calls), Usage())

    @property
    def wall_time(self) -> float:
        """Seconds from start to end."""
        return self.finished_at - self.started_at

    @property
    def replans(self) -> int:
        """How many times the run planned again."""
        return max(len(self.plans) - 1, 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (values rendered as text where not JSON already)."""
        return {
            "run_id": self.run_id,
            "request": self.request,
            "answer": self.answer,
            "thought": self.thought,
            "status": self.status,
            "error": self.error,
            "wall_time": round(self.wall_time, 4),
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
            "plans": [
                {
                    "index": plan.index,
                    "reason": plan.reason,
                    "text": plan.text,
                    "task_ids": plan.task_ids,
                    "rejected": [{"line": e.line, "reason": e.reason} for e in plan.rejected],
                }
                for plan in self.plans
            ],
            "tasks": [_task_dict(r, self.started_at) for r in self.tasks.values()],
            "calls": [
                {
                    "role": call.role,
                    "prompt_tokens": call.usage.prompt_tokens,
                    "completion_tokens": call.usage.completion_tokens,
                    "start": round(call.started_at - self.started_at, 4),
                    "duration": round(call.duration, 4),
                    "text": call.text,
                }
                for call in self.calls
            ],
        }

    def to_json(self, **kwargs: Any) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str, **kwargs)


def _task_dict(result: TaskResult, origin: float) -> dict[str, Any]:
    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - origin, 4)

    value: Any = None
    if result.state is TaskState.SUCCEEDED:
        try:
            json.dumps(result.value)
            value = result.value
        except (TypeError, ValueError):
            value = render_text(result.value)
    return {
        "id": result.task.id,
        "call": result.task.call_text(),
        "tool": result.task.tool,
        "deps": sorted(result.task.deps),
        "state": result.state.value,
        "value": value,
        "error": result.error.message if result.error else None,
        "reason": result.reason,
        "start": rel(result.started_at),
        "end": rel(result.finished_at),
    }
