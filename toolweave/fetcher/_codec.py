"""`TaskResult`'s codec: a task's record as JSON-ready data and back.

Values travel as their JSON form (`pydantic_core.to_jsonable_python`): a tool that
returns a dataclass or a model comes back, after a round trip, as a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from toolweave.errors import ToolError, ToolErrorKind, UserError
from toolweave.fetcher._scheduler import TaskResult, TaskState
from toolweave.plan import PlanTask, decode_arg, encode_arg
from toolweave.storage import jsonable

__all__ = ["task_from_dict", "task_to_dict"]


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
