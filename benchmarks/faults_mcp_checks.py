"""The hostile-MCP campaign's records and checks: what a probe did, and whether it was right.

Each check reads one probe's run (`Ran`) and says what was wrong, or `None`; it counts
what it saw (timeouts, capped answers, refusals, values) in the campaign's `Stats`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from probes import Outcome

from toolweave import RunResult, TaskState, ToolError, UserError
from toolweave.sources import MCPSource

__all__ = [
    "Check",
    "Outcome",
    "Ran",
    "Stats",
    "default_deadline",
    "fails",
    "foreign_errors",
    "no_tools",
    "refused",
    "said",
    "sane_list",
    "tokyo",
    "value",
]


@dataclass
class Stats:
    """What the hostile-MCP campaign tried and found."""

    inputs: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    timeouts: int = 0  # calls that ended at their deadline
    capped: int = 0  # calls that ended at the size cap
    refused: int = 0  # connections refused with a clear error
    answered: int = 0  # calls that brought the right value back


@dataclass
class Ran:
    """One probe's run: its result or error, and the echo before and after."""

    result: RunResult | None = None
    error: BaseException | None = None
    source: MCPSource | None = None
    offered: list[str] = field(default_factory=list)  # the tools' names, while open
    deadlines: list[float | None] = field(default_factory=list)  # and their deadlines
    before: object = None
    after: object = None


Check = Callable[[Ran, Stats], str | None]


def task_error(ran: Ran) -> ToolError | None:
    if ran.result is None or 1 not in ran.result.tasks:
        return None
    error = ran.result.tasks[1].error
    return error if isinstance(error, ToolError) else None


def value(expected: object) -> Check:
    """Task 1 brought `expected` back."""

    def check(ran: Ran, stats: Stats) -> str | None:
        if ran.result is None or 1 not in ran.result.tasks:
            return f"no result: {ran.error!r}"
        got = ran.result.tasks[1].value
        if got != expected:
            return f"value {str(got)[:80]!r}, error {ran.result.tasks[1].error}"
        stats.answered += 1
        return None

    return check


def fails(words: str, kind: str | None = None, *, serves_on: bool = True) -> Check:
    """Task 1 failed with a ToolError saying `words`; the connection serves on."""

    def check(ran: Ran, stats: Stats) -> str | None:
        error = task_error(ran)
        if error is None or words not in error.message or (kind and error.kind != kind):
            got = error or (ran.error if ran.result is None else ran.result.tasks.get(1))
            return f"expected a ToolError saying {words!r}, got {str(got)[:160]!r}"
        stats.timeouts += error.kind == "timeout"
        stats.capped += "max_result_bytes" in error.message
        if serves_on and not str(ran.after).startswith("echo: after"):
            return f"the next call failed: {str(ran.after)[:120]!r}"
        return None

    return check


def refused(words: str) -> Check:
    """Connecting failed with a UserError saying `words`."""

    def check(ran: Ran, stats: Stats) -> str | None:
        if not isinstance(ran.error, UserError) or words not in str(ran.error):
            return f"expected a UserError saying {words!r}, got {ran.error!r}"
        stats.refused += 1
        return None

    return check


def no_tools(ran: Ran, stats: Stats) -> str | None:
    """The source opened with no tools; the plan's call was rejected, clearly."""
    if ran.result is None or ran.source is None or ran.offered:
        return f"expected an open source without tools, got {ran.error!r}"
    rejected = [e for plan in ran.result.plans for e in plan.rejected]
    return None if any("poke" in str(e) for e in rejected) else "the call was not rejected"


def sane_list(ran: Ran, stats: Stats) -> str | None:
    """Valid unique names, unusable schemas left out, the good tools still work."""
    if ran.result is None or ran.source is None:
        return f"no run: {ran.error!r}"
    names = ran.offered
    if len(set(names)) != len(names) or any(
        not n.isidentifier() or len(n) > 60 or n == "join" for n in names
    ):
        return f"bad names offered: {[n[:20] for n in names]}"
    if not {"bad_type", "ref_loop"} <= set(ran.source.skipped):
        return f"unusable schemas offered; skipped only {sorted(ran.source.skipped)}"
    return value("poked")(ran, stats)


def default_deadline(ran: Ran, stats: Stats) -> str | None:
    """Built without a call_timeout, the source's tools still have a deadline."""
    if not ran.deadlines:
        return f"no tools: {ran.error!r}"
    if None in ran.deadlines:
        return "a tool has no deadline: a server that never answers holds the run"
    return value("poked")(ran, stats)


def tokyo(ran: Ran, stats: Stats) -> str | None:
    got = ran.result.tasks[1].value if ran.result and 1 in ran.result.tasks else ran.error
    if not (isinstance(got, dict) and got.get("timezone") == "Asia/Tokyo"):
        return f"expected Tokyo's time, got {str(got)[:160]!r}"
    stats.answered += 1
    return None


def foreign_errors(ran: Ran) -> str | None:
    """A failed task whose error is no ToolError: an exception escaped a tool call."""
    for task in ran.result.tasks.values() if ran.result else ():
        if task.state is TaskState.FAILED and not isinstance(task.error, ToolError):
            return f"task {task.task.id} failed with {task.error!r}"
    return None


def said(ran: Ran) -> str:
    if ran.result is not None and 1 in ran.result.tasks:
        task = ran.result.tasks[1]
        return str(task.error if task.error is not None else repr(task.value))[:140]
    if ran.result is not None:
        rejected = [str(e) for plan in ran.result.plans for e in plan.rejected]
        return f"no tools offered; rejected: {'; '.join(rejected)}"[:140]
    return str(ran.error)[:140]
