"""Events as JSON-ready dicts, for ``/trace`` and for logs."""

from __future__ import annotations

import dataclasses
from typing import Any

from toolweave.errors import ToolweaveError
from toolweave.events import Event
from toolweave.plan import PlanTask, render_text
from toolweave.planner import Finish, Replan

__all__ = ["event_to_dict"]


def event_to_dict(event: Event, origin: float = 0.0) -> dict[str, Any]:
    """An event as plain data: its type, its time from `origin`, and its fields."""
    out: dict[str, Any] = {"type": type(event).__name__, "t": round(event.at - origin, 4)}
    for item in dataclasses.fields(event):
        if item.name in ("at", "run_id"):
            continue
        out[item.name] = _plain(getattr(event, item.name))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, PlanTask):
        return {"id": value.id, "call": value.call_text(), "deps": sorted(value.deps)}
    if isinstance(value, Finish):
        return {"action": "Finish", "answer": value.answer, "thought": value.thought}
    if isinstance(value, Replan):
        return {"action": "Replan", "reason": value.reason, "thought": value.thought}
    if isinstance(value, ToolweaveError):
        return {"error": type(value).__name__, "message": str(value)}
    if hasattr(value, "to_dict"):
        return {"run_id": value.run_id, "status": value.status, "answer": value.answer}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "tool") and hasattr(value, "fused"):  # a ScoredTool
            return {"tool": value.tool.name, "fused": round(value.fused, 4)}
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return render_text(value)
