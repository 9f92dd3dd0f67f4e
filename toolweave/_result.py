"""`RunResult`: everything a run did, kept whole however the run ended."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from toolweave._redact import redact_value
from toolweave._state import jsonable, result_from_dict, sign, task_to_dict
from toolweave.errors import PlanError, UserError
from toolweave.fetcher import TaskResult
from toolweave.models import Usage

__all__ = ["ModelCall", "PendingCall", "PlanRecord", "RunResult"]


@dataclass(slots=True)
class ModelCall:
    """One model call of a run: who made it, what it cost, how long it took."""

    role: Literal["planner", "joiner", "decomposer"]
    usage: Usage
    started_at: float
    finished_at: float
    first_token_at: float | None = None
    text: str = ""
    model: str = ""
    """The model's name, once the run has priced its calls."""
    cost: float | None = None
    """What the call cost, in the price table's currency; `None` if its price is unknown."""

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
        cut: The line at which the parser ended it because it began to loop (it
            repeated a call), and why; the lines before it ran. A replan that repeats
            the previous plan call for call is cut whole (no line, no tasks): the
            joiner answers from the earlier results.
    """

    index: int
    text: str = ""
    task_ids: list[int] = field(default_factory=list)
    rejected: list[PlanError] = field(default_factory=list)
    reason: str | None = None
    cut: PlanError | None = None


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A destructive call that waits for approval in a paused run.

    Attributes:
        id: The task's id: the key of its approval in `Agent.resume`.
        tool: The tool's name.
        args: The call's arguments, resolved and validated.
    """

    id: int
    tool: str
    args: dict[str, object]


RunStatus = Literal[
    "running", "finished", "paused", "resumed", "budget_exceeded", "failed", "cancelled"
]


@dataclass(slots=True)
class RunResult:
    """What a run did: the answer, every task, every plan, every model call.

    Attributes:
        run_id: The run's id, as on its events.
        request: The user's request.
        answer: The final answer, when the run finished.
        thought: The joiner's last thought.
        status: ``running`` until the run ends; then ``finished`` (an answer),
            ``paused`` (destructive calls wait for approval: see `pending` and
            `Agent.resume`), ``budget_exceeded``, ``failed`` or ``cancelled``. A paused
            result that `Agent.resume` took up says ``resumed``: a pause resumes once,
            and the run goes on in the result that `resume` returns.
        error: Why it did not finish, in words.
        tasks: Every task of every plan, by id, with state, value or error, timings.
        plans: Every plan, in order.
        calls: Every model call, in order.
        started_at: When the run started (`time.perf_counter()`).
        finished_at: When it ended.
        output: The answer validated into the run's ``output_type``, if it had one.
        pending: In a paused run, the calls that wait for approval.
        pause_id: In a paused run, the pause's own id: `Agent.resume` claims it, once.
        source: Where this record comes from: ``run`` (a run in this process),
            ``signed`` (`from_json`/`from_dict` with the key it was signed with) or
            ``unsigned`` (read without a key: `Agent.resume` takes it only when told
            to trust it). Not part of the state.
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
    output: object = None
    pending: list[PendingCall] = field(default_factory=list)
    pause_id: str | None = None
    source: Literal["run", "signed", "unsigned"] = field(default="run", compare=False)

    @property
    def usage(self) -> Usage:
        """Tokens of every model call, added up."""
        return sum((call.usage for call in self.calls), Usage())

    @property
    def cost(self) -> float:
        """What the model calls cost together (calls of unknown price count 0)."""
        return sum(call.cost or 0.0 for call in self.calls)

    @property
    def wall_time(self) -> float:
        """Seconds from start to end."""
        return self.finished_at - self.started_at

    @property
    def memoised(self) -> list[int]:
        """The tasks that took an identical earlier call's result instead of running."""
        return [tid for tid, r in self.tasks.items() if r.memo_of is not None]

    @property
    def replans(self) -> int:
        """How many times the run planned again."""
        return max(len(self.plans) - 1, 0)

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        """The run's whole state, JSON-ready (values as text where not JSON already).

        Args:
            redact: Hide secrets (see `toolweave._redact`): a form to store or share,
                not to resume (a hidden argument no longer matches its approval).
        """
        data = self._state()
        return redact_value(data) if redact else data

    def _state(self) -> dict[str, Any]:
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
                "cached_prompt_tokens": self.usage.cached_prompt_tokens,
                "evaluated_prompt_tokens": self.usage.evaluated_prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
            "plans": [
                {
                    "index": plan.index,
                    "reason": plan.reason,
                    "text": plan.text,
                    "task_ids": plan.task_ids,
                    "rejected": [
                        {"line": e.line, "reason": e.reason, "task_id": e.task_id}
                        for e in plan.rejected
                    ],
                    "cut": None
                    if plan.cut is None
                    else {
                        "line": plan.cut.line,
                        "reason": plan.cut.reason,
                        "task_id": plan.cut.task_id,
                    },
                }
                for plan in self.plans
            ],
            "tasks": [task_to_dict(r, self.started_at) for r in self.tasks.values()],
            "calls": [
                {
                    "role": call.role,
                    "prompt_tokens": call.usage.prompt_tokens,
                    "cached_prompt_tokens": call.usage.cached_prompt_tokens,
                    "completion_tokens": call.usage.completion_tokens,
                    "start": round(call.started_at - self.started_at, 4),
                    "duration": round(call.duration, 4),
                    "text": call.text,
                    "first_token_at": None
                    if call.first_token_at is None
                    else round(call.first_token_at - self.started_at, 4),
                    "model": call.model,
                    "cost": call.cost,
                }
                for call in self.calls
            ],
            "cost": self.cost,
            "output": jsonable(self.output),
            "pending": [
                {"id": p.id, "tool": p.tool, "args": jsonable(p.args)} for p in self.pending
            ],
            "pause_id": self.pause_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, key: bytes | str | None = None) -> RunResult:
        """A run rebuilt from `to_dict` output, ready for `Agent.resume` if paused.

        Args:
            data: The state.
            key: The key it was signed with (`to_json(key=...)`): a state whose MAC is
                missing or does not verify is refused.

        Raises:
            UserError: The data is not a run's full state.
            StateError: It holds what no run writes, or its MAC does not verify.
        """
        return result_from_dict(data, key)

    @classmethod
    def from_json(cls, text: str, *, key: bytes | str | None = None) -> RunResult:
        """A run rebuilt from `to_json` text (see `from_dict`).

        Raises:
            UserError: The text is not a run's full state.
            StateError: It holds what no run writes, or its MAC does not verify.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"not JSON: {exc}") from exc
        except RecursionError as exc:  # '[[[[...' nested past what Python's parser takes
            raise UserError("not a run's state: JSON nested too deeply") from exc
        if not isinstance(data, dict):
            raise UserError("a run's state is a JSON object")
        return result_from_dict(data, key)

    def to_json(
        self, *, key: bytes | str | None = None, redact: bool = False, **kwargs: Any
    ) -> str:
        """`to_dict` as JSON text.

        Args:
            key: Sign the state (HMAC-SHA256), so that `from_json(text, key=key)`
                refuses it if it was changed. Keep the key where the state is not: a
                party that can edit the state and knows the key can sign its edits.
            redact: Hide secrets, as `to_dict(redact=True)`.
            **kwargs: For `json.dumps` (``indent=2``, for instance).
        """
        data = self.to_dict(redact=redact)
        if key is not None:
            data = sign(data, key)
        return json.dumps(data, ensure_ascii=False, default=str, **kwargs)
