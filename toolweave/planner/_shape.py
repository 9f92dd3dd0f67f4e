"""`PlanShape`: what a plan calls, with its refs made relative, to spot a repeated plan.

Two plans have the same shape when they make the same calls in the same order, where a
ref to a task of the same plan counts by position (so renumbering does not hide a
repeat) and a ref to an earlier plan's task counts by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from toolweave.plan import Arg, PlanTask, Ref, Template

__all__ = ["PlanShape"]


class PlanShape:
    """The calls of a plan, normalized; built task by task as the plan streams."""

    __slots__ = ("_calls", "_positions")

    def __init__(self) -> None:
        self._calls: list[tuple[str, Any]] = []
        self._positions: dict[int, int] = {}

    @classmethod
    def of(cls, tasks: Iterable[PlanTask]) -> PlanShape:
        """The shape of a whole plan."""
        shape = cls()
        for task in tasks:
            shape.add(task)
        return shape

    def add(self, task: PlanTask) -> None:
        """Append the next task of the plan."""
        args = tuple(sorted((k, self._norm(v)) for k, v in task.args.items()))
        self._calls.append((task.tool, args))
        self._positions[task.id] = len(self._calls) - 1

    def matches_prefix(self, other: PlanShape) -> bool:
        """Whether this plan so far is the start of `other` (earlier calls already were)."""
        n = len(self._calls)
        return n <= len(other._calls) and self._calls[n - 1] == other._calls[n - 1]

    def __len__(self) -> int:
        return len(self._calls)

    def _norm(self, value: Arg) -> Any:
        if isinstance(value, Ref):
            pos = self._positions.get(value.task_id)
            return ("@", pos, value.path) if pos is not None else ("$", value.task_id, value.path)
        if isinstance(value, Template):
            return ("t", tuple(p if isinstance(p, str) else self._norm(p) for p in value.parts))
        if isinstance(value, list):
            return ("l", tuple(self._norm(v) for v in value))
        if isinstance(value, dict):
            return ("d", tuple(sorted((k, self._norm(v)) for k, v in value.items())))
        return ("v", type(value).__name__, value)
