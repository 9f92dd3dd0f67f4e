"""`RunResult`: everything a run did, kept whole however the run ended; and back from JSON.

`RunResult.to_dict()` writes the summary every reader knows plus what rebuilding needs
(each task's planned arguments with their refs, its resolved arguments, its error's
kind); `from_dict` reads it back. Times are kept relative to the run's start. State that
leaves the process can come back edited: given a key, the state is signed and checked
(`toolweave.storage.sign`), and `from_dict` refuses what no run writes (an unknown
status, a task id twice, a plan or a pending call that names no task).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from toolweave.errors import PlanError, StateError, UserError
from toolweave.fetcher import TaskResult, task_from_dict, task_to_dict
from toolweave.models import Usage
from toolweave.redaction import redact_value
from toolweave.storage import jsonable, sign, verify

__all__ = ["ModelCall", "PendingCall", "PlanRecord", "RunResult", "RunStatus"]


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
            redact: Hide secrets (see `toolweave.redaction`): a form to store or share,
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
        return _from_dict(data, key)

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
        return _from_dict(data, key)

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


def _plan_error(data: Mapping[str, Any]) -> PlanError:
    return PlanError(data["reason"], line=data["line"], task_id=data.get("task_id"))


def _from_dict(data: Mapping[str, Any], key: bytes | str | None = None) -> RunResult:
    """Rebuild a `RunResult` from `RunResult.to_dict()` output (checked with `key`, if given).

    Raises:
        UserError: The data is not a run's full state (an old log entry, another file).
        StateError: It holds what no run writes, or its MAC does not verify under `key`.
    """
    if key is not None:
        verify(data, key)
    if data.get("status") not in get_args(RunStatus):
        raise StateError(f"not a run's state: unknown status {data.get('status')!r}")
    try:
        result = RunResult(
            run_id=str(data["run_id"]),
            request=str(data["request"]),
            answer=data.get("answer"),
            thought=data.get("thought"),
            status=data["status"],
            error=data.get("error"),
            started_at=0.0,
            finished_at=float(data.get("wall_time", 0.0)),
        )
        for plan in data.get("plans", ()):
            result.plans.append(
                PlanRecord(
                    int(plan["index"]),
                    plan.get("text", ""),
                    [int(i) for i in plan.get("task_ids", ())],
                    [_plan_error(e) for e in plan.get("rejected", ())],
                    plan.get("reason"),
                    None if plan.get("cut") is None else _plan_error(plan["cut"]),
                )
            )
        for task in data.get("tasks", ()):
            record = task_from_dict(task)
            if record.task.id in result.tasks:
                raise StateError(f"not a run's state: task {record.task.id} appears twice")
            result.tasks[record.task.id] = record
        for call in data.get("calls", ()):
            start = float(call["start"])
            first = call.get("first_token_at")
            result.calls.append(
                ModelCall(
                    call["role"],
                    Usage(
                        int(call["prompt_tokens"]),
                        int(call["completion_tokens"]),
                        int(call.get("cached_prompt_tokens", 0)),
                    ),
                    start,
                    start + float(call["duration"]),
                    None if first is None else float(first),
                    call.get("text", ""),
                    model=str(call.get("model", "")),
                    cost=None if call.get("cost") is None else float(call["cost"]),
                )
            )
        result.pending = [
            PendingCall(int(p["id"]), str(p["tool"]), dict(p["args"]))
            for p in data.get("pending", ())
        ]
        result.output = data.get("output")  # its JSON form; a resume validates it again
        pause_id = data.get("pause_id")
        result.pause_id = None if pause_id is None else str(pause_id)
        result.source = "unsigned" if key is None else "signed"
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise UserError(f"not a run's state: {type(exc).__name__}: {exc}") from exc
    _check_ids(result)
    return result


def _check_ids(result: RunResult) -> None:
    """Every plan's task and every pending call is a task, named once."""
    planned: set[int] = set()
    for plan in result.plans:
        unknown = set(plan.task_ids) - set(result.tasks)
        if unknown:
            raise StateError(f"not a run's state: plan {plan.index} names no task {unknown}")
        if planned & set(plan.task_ids) or len(set(plan.task_ids)) < len(plan.task_ids):
            raise StateError(f"not a run's state: plan {plan.index} repeats a task")
        planned.update(plan.task_ids)
    pending = [call.id for call in result.pending]
    if len(set(pending)) < len(pending) or set(pending) - set(result.tasks):
        raise StateError(f"not a run's state: pending calls {pending} are not distinct tasks")
