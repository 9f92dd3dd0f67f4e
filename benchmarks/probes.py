"""What the fault campaigns share: one probe's outcome, and the report's table of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Outcome", "table"]


@dataclass
class Outcome:
    """One probe: what it did, and whether the promise held."""

    name: str
    ok: bool
    seconds: float
    detail: str


def table(outcomes: Iterable[Outcome], *, width: int = 140) -> list[str]:
    """The probes as Markdown table rows, under a header; details on one line, cut."""
    lines = ["| probe | held | seconds | detail |", "| --- | --- | ---: | --- |"]
    for o in outcomes:
        detail = " ".join(o.detail.replace("|", "\\|").split())[:width]
        lines.append(f"| {o.name} | {'yes' if o.ok else 'NO'} | {o.seconds:.2f} | {detail} |")
    return lines
