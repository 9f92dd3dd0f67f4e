"""A run's whole state as JSON, and back: what a paused run needs to resume elsewhere.

`RunResult.to_dict()` writes the summary every reader knows plus what rebuilding needs
(each task's planned arguments with their refs, its resolved arguments, its error's
kind); `result_from_dict` reads it back. Times are kept relative to the run's start.

Values travel as their JSON form (`pydantic_core.to_jsonable_python`): a tool that
returns a dataclass or a model comes back, after a round trip, as a dict.

State that leaves the process can come back edited. Given a key, `sign` adds a MAC
(HMAC-SHA256 over the state's canonical JSON) and `verify` refuses a state whose MAC
is missing or wrong; `result_from_dict` refuses what no run writes (an unknown status,
a task id twice, a plan or a pending call that names no task).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast, get_args

from pydantic_core import to_jsonable_python

from toolweave.errors import PlanError, StateError, ToolError, ToolErrorKind, UserError
from toolweave.fetcher import TaskResult, TaskState
from toolweave.models import Usage
from toolweave.plan import Arg, PlanTask, Ref, Template

if TYPE_CHECKING:
    from toolweave._result import RunResult

__all__ = [
    "MAC_FIELD",
    "canonical",
    "decode_arg",
    "encode_arg",
    "jsonable",
    "result_from_dict",
    "sign",
    "task_from_dict",
    "task_to_dict",
    "verify",
]

MAC_FIELD = "mac"
_MAC_SCHEME = "hmac-sha256:"
_MIN_KEY_BYTES = 16


def jsonable(value: object) -> Any:
    """`value` as JSON-ready data; what JSON cannot hold becomes its text."""
    return to_jsonable_python(value, fallback=str)


def canonical(value: object) -> str:
    """`value`'s JSON form as one canonical text: sorted keys, no spaces, ASCII.

    Sets become sorted lists: their order is the hash order of one process, and a state
    is checked in another. Lone surrogates (an OS-decoded file name) stay escaped.
    """
    return json.dumps(
        jsonable(_ordered(value)), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )


def _ordered(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted((_ordered(item) for item in value), key=canonical)
    if isinstance(value, Mapping):
        return {key: _ordered(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_ordered(item) for item in value]
    return value


def _mac(data: Mapping[str, Any], key: bytes | str) -> str:
    secret = key.encode() if isinstance(key, str) else key
    if not isinstance(secret, bytes) or len(secret) < _MIN_KEY_BYTES:
        raise UserError(f"a state key is bytes or text of at least {_MIN_KEY_BYTES} bytes")
    body = canonical({k: v for k, v in data.items() if k != MAC_FIELD}).encode()
    return _MAC_SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def sign(data: Mapping[str, Any], key: bytes | str) -> dict[str, Any]:
    """`data` (a JSON-ready state) with its MAC under `key` added."""
    plain = json.loads(json.dumps(data, ensure_ascii=False, default=str))  # as it will be read
    plain[MAC_FIELD] = _mac(plain, key)
    return cast(dict[str, Any], plain)


def verify(data: Mapping[str, Any], key: bytes | str) -> None:
    """Refuse `data` unless it carries the MAC that `key` gives it.

    Raises:
        StateError: The MAC is missing or does not match.
    """
    given = data.get(MAC_FIELD)
    if not isinstance(given, str):
        raise StateError("the state carries no MAC, but a key was given to check it")
    if not hmac.compare_digest(given.encode(), _mac(data, key).encode()):
        raise StateError(
            "the state's MAC does not match: it was changed after it was signed, "
            "or signed with another key"
        )


def encode_arg(value: Arg | Mapping[str, Arg]) -> Any:
    """A planned argument as JSON: a ref is ``{"$ref": N}``, a template ``{"$template": [...]}``."""
    if isinstance(value, Ref):
        return (
            {"$ref": value.task_id, "path": list(value.path)}
            if value.path
            else {"$ref": value.task_id}
        )
    if isinstance(value, Template):
        return {"$template": [encode_arg(part) for part in value.parts]}
    if isinstance(value, list):
        return [encode_arg(item) for item in value]
    if isinstance(value, Mapping):
        return {key: encode_arg(item) for key, item in value.items()}
    return value


def decode_arg(data: Any) -> Arg:
    """The inverse of `encode_arg`."""
    if isinstance(data, dict):
        if set(data) in ({"$ref"}, {"$ref", "path"}):
            return _ref(data)
        if set(data) == {"$template"}:
            parts = tuple(_ref(p) if isinstance(p, dict) else str(p) for p in data["$template"])
            return Template(parts)
        return {str(key): decode_arg(item) for key, item in data.items()}
    if isinstance(data, list):
        return [decode_arg(item) for item in data]
    return cast(Arg, data)


def _ref(data: Mapping[str, Any]) -> Ref:
    path = tuple(step if isinstance(step, int) else str(step) for step in data.get("path", ()))
    return Ref(int(data["$ref"]), path)


def task_to_dict(result: TaskResult, origin: float = 0.0) -> dict[str, Any]:
    """A task's record as JSON-ready data, its times relative to `origin`."""

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - origin, 4)

    value = jsonable(result.value) if result.state is TaskState.SUCCEEDED else None
    error = result.error
    return {
        "id": result.task.id,
        "call": result.task.call_text(),
        "tool": result.task.tool,
        "deps": sorted(result.task.deps),
        "state": result.state.value,
        "value": value,
        "error": result.error.message if result.error else None,
        "reason": result.reason,
        "memo_of": result.memo_of,
        "start": rel(result.started_at),
        "end": rel(result.finished_at),
        "plan_args": encode_arg(result.task.args),
        "thought": result.task.thought,
        "args": None if result.args is None else jsonable(result.args),
        "error_kind": error.kind if error else None,
        "attempts": error.attempts if error else None,
    }


def task_from_dict(data: Mapping[str, Any], origin: float = 0.0) -> TaskResult:
    """A task's record from its `RunResult.to_dict()` entry (times plus `origin`)."""
    args = data.get("plan_args")
    if not isinstance(args, dict):
        raise UserError(f"task {data.get('id')} lacks its planned arguments: not a full state")
    task = PlanTask(
        int(data["id"]),
        str(data["tool"]),
        {str(k): decode_arg(v) for k, v in args.items()},
        frozenset(int(d) for d in data.get("deps", ())),
        data.get("thought"),
    )
    record = TaskResult(task, TaskState(data["state"]))
    record.args = data.get("args")
    record.value = data.get("value")
    record.reason = data.get("reason")
    record.memo_of = data.get("memo_of")
    if data.get("error") is not None:
        kind = cast(ToolErrorKind, data.get("error_kind") or "exception")
        record.error = ToolError(
            task.tool,
            str(data["error"]),
            args=record.args,
            kind=kind,
            attempts=int(data.get("attempts") or 1),
        )
    if data.get("start") is not None:
        record.started_at = origin + float(data["start"])
    if data.get("end") is not None:
        record.finished_at = origin + float(data["end"])
    return record


def _plan_error(data: Mapping[str, Any]) -> PlanError:
    return PlanError(data["reason"], line=data["line"], task_id=data.get("task_id"))


def result_from_dict(data: Mapping[str, Any], key: bytes | str | None = None) -> RunResult:
    """Rebuild a `RunResult` from `RunResult.to_dict()` output (checked with `key`, if given).

    Raises:
        UserError: The data is not a run's full state (an old log entry, another file).
        StateError: It holds what no run writes, or its MAC does not verify under `key`.
    """
    from toolweave._result import ModelCall, PendingCall, PlanRecord, RunResult, RunStatus

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
