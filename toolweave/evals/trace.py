"""The `Trace` of a strategy on a case: its calls, answer, usage and what went wrong.

Every strategy (`toolweave.evals.strategies`) fills one; the runner scores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolweave.evals.metrics import Call
from toolweave.models import Usage

__all__ = ["Trace"]


@dataclass(slots=True)
class Trace:
    """What a strategy did on a case."""

    calls: list[Call] = field(default_factory=list)
    answer: str | None = None
    usage: Usage = field(default_factory=Usage)
    llm_calls: int = 0
    replans: int = 0
    rejected: int | None = None
    """Plan lines the parser rejected (a planner's strategy only)."""
    cut: int | None = None
    """Plans the parser ended where they began to loop (a planner's strategy only)."""
    wall: float = 0.0
    error: str | None = None
    mode: str | None = None
