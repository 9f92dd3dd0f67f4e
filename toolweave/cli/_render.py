"""Render a run's events in the terminal: a live task table, then the answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from toolweave.cli._safe import clean, one_line
from toolweave.events import (
    ApprovalRequested,
    Event,
    JoinDecided,
    PlanFinished,
    PlanRejectedLine,
    Replanned,
    RunStarted,
    TaskEvent,
    TaskFailed,
    TaskPlanned,
    TaskProgress,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from toolweave.fetcher import TaskState
from toolweave.plan import PlanTask
from toolweave.planner import Finish
from toolweave.result import RunResult

__all__ = ["RunView", "parallelism", "summary_line"]

_STYLE = {
    "queued": "dim",
    "running": "yellow",
    "done": "green",
    "failed": "red",
    "skipped": "bright_black",
    "waiting": "magenta",
}
_FOLDABLE = frozenset({"done", "skipped"})


@dataclass(slots=True)
class _Row:
    """One task as the table shows it."""

    task: PlanTask
    plan: int
    state: str = "queued"
    start: float | None = None
    seconds: float | None = None
    detail: object = None


class RunView:
    """The state of one run as the terminal shows it; fed with events.

    Events arrive on the event loop while `rich.live.Live` renders from its refresh
    thread, so both go through one lock, held only to update the view or to copy it.
    """

    def __init__(self, max_rows: int | None = None) -> None:
        self._lock = threading.Lock()
        self.max_rows = max_rows
        """How many task rows the live view shows; `None` shows them all."""
        self.rows: dict[int, _Row] = {}
        self.headers: list[str] = ["plan 1"]
        self.notes: list[Text] = []
        self.plan_index = 0
        self.status = "planning"

    def handle(self, event: Event) -> None:
        """Update the view with one event."""
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.status = f"planning with {event.model}"
        elif isinstance(event, Replanned):
            self.plan_index = event.index
            self.headers.append(f"plan {event.index + 1} (replan: {one_line(event.reason, 200)})")
            self.status = "replanning"
        elif isinstance(event, PlanRejectedLine):
            line, reason = one_line(event.error.line, 200), one_line(event.error.reason, 200)
            self.notes.append(Text(f"rejected: {line}  ({reason})", "red"))
        elif isinstance(event, PlanFinished):
            self.status = "running tools"
            if event.cut is not None:
                self.notes.append(Text(f"plan cut: {one_line(event.cut, 200)}", "yellow"))
        elif isinstance(event, JoinDecided):
            self.status = "finishing" if isinstance(event.decision, Finish) else "replanning"
        elif isinstance(event, TaskEvent):
            self._task(event)

    def _task(self, event: TaskEvent) -> None:
        tid = event.task.id
        if isinstance(event, TaskPlanned):
            self.rows[tid] = _Row(event.task, self.plan_index)
            return
        row = self.rows[tid]
        if isinstance(event, TaskStarted):
            row.state, row.start = "running", event.at
        elif isinstance(event, TaskProgress):
            if row.state == "running":  # a late report must not hide the result
                row.detail = _progress(event)
        elif isinstance(event, TaskSucceeded):
            row.state, row.seconds, row.detail = "done", event.duration, event.value
        elif isinstance(event, TaskFailed):
            row.state, row.seconds, row.detail = "failed", event.duration, event.error.message
        elif isinstance(event, TaskSkipped):
            row.state, row.detail = "skipped", event.reason
        elif isinstance(event, ApprovalRequested):
            row.state, row.detail = "waiting", "for approval"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width, self.max_rows)

    def render(self, width: int = 100, max_rows: int | None = None) -> RenderableType:
        """The table of tasks, fitted to `width` columns, with notes and the status.

        With `max_rows`, finished tasks beyond it fold into one line, the earliest
        first: the ones still running, waiting or failed always show.
        """
        with self._lock:  # copy what the table shows; build it outside the lock
            rows = [
                (tid, row.plan, row.task, row.state, row.start, row.seconds, row.detail)
                for tid, row in _visible(self.rows, max_rows)
            ]
            folded = len(self.rows) - len(rows)
            headers, notes, status = list(self.headers), list(self.notes), self.status
        result_width = max(10, (width - 40) // 4)
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column(
            "call", overflow="ellipsis", no_wrap=True, max_width=max(20, width - 40 - result_width)
        )
        table.add_column("after", no_wrap=True, overflow="ellipsis", max_width=9)
        table.add_column("state", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("result", overflow="ellipsis", no_wrap=True, max_width=result_width)
        if folded:
            table.add_row("", Text(f"… {folded} finished tasks not shown", "dim"), "", "", "", "")
        now = time.perf_counter()
        current_plan = -1
        for tid, plan, task, state, start, seconds, detail in rows:
            if plan != current_plan:
                current_plan = plan
                table.add_row("", Text(headers[plan], "bold cyan"), "", "", "", "")
            if seconds is None and start is not None:
                seconds = now - start
            table.add_row(
                str(tid),
                Text(one_line(task.call_text(), 500)),
                ",".join(f"${d}" for d in sorted(task.deps)),
                Text(state, _STYLE[state]),
                f"{seconds:.2f}s" if seconds is not None else "",
                Text(_short(detail)),
            )
        parts: list[RenderableType] = [table, *notes]
        if status:
            parts.append(Text(f"… {status}", "dim italic"))
        return Group(*parts)


def _visible(rows: dict[int, _Row], max_rows: int | None) -> list[tuple[int, _Row]]:
    """The rows to show: all of them, or the unfinished ones and the latest finished."""
    if max_rows is None or len(rows) <= max_rows:
        return list(rows.items())
    open_ids = {tid for tid, row in rows.items() if row.state not in _FOLDABLE}
    room = max(0, max_rows - len(open_ids))
    finished = [tid for tid in rows if tid not in open_ids]
    keep = open_ids | set(finished[len(finished) - room :] if room else ())
    return [(tid, row) for tid, row in rows.items() if tid in keep]


def _progress(event: TaskProgress) -> str:
    done = f"{event.progress:g}/{event.total:g}" if event.total else f"{event.progress:g}"
    return f"{done} {event.message}" if event.message else done


def _short(value: object) -> str:
    return "" if value is None else one_line(value, 500)


def parallelism(result: RunResult) -> float:
    """How many tools ran at once, on average, while any ran: 1.0 is one at a time."""
    spans = sorted(
        (r.started_at, r.finished_at)
        for r in result.tasks.values()
        if r.started_at is not None and r.finished_at is not None
    )
    busy = sum(end - start for start, end in spans)
    covered, reach = 0.0, float("-inf")
    for start, end in spans:  # the length of the union of the spans
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return busy / covered if covered > 0 else 1.0


def summary_line(result: RunResult) -> str:
    """Tasks, parallelism, model calls, tokens, wall time, on one line."""
    states = [r.state for r in result.tasks.values()]
    done = states.count(TaskState.SUCCEEDED)
    extra = []
    if failed := states.count(TaskState.FAILED):
        extra.append(f"{failed} failed")
    if skipped := states.count(TaskState.SKIPPED):
        extra.append(f"{skipped} skipped")
    tasks = f"{done}/{len(states)} tasks" + (f" ({', '.join(extra)})" if extra else "")
    usage = result.usage
    return (
        f"{tasks} · parallelism {parallelism(result):.1f}x · {len(result.plans)} plan(s), "
        f"{len(result.calls)} model calls · {usage.prompt_tokens}+{usage.completion_tokens} "
        f"tokens · {result.wall_time:.2f}s"
    )


def print_result(console: Console, result: RunResult) -> None:
    """The answer as Markdown, then the summary line."""
    console.print(Markdown(clean(result.answer) if result.answer else "_(no answer)_"))
    console.print(Text(summary_line(result), "dim"))
