"""The ``log`` command: list past runs, show one as JSON, or draw it as a timeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from toolweave.cli._safe import one_line
from toolweave.errors import UserError

__all__ = ["log_command"]


async def log_command(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.cli._runlog import RunLog

    log = RunLog()
    run_id = args.show_id if args.run_id == "show" else args.run_id
    if not run_id and (args.run_id == "show" or args.svg):
        what = "log show" if args.run_id == "show" else "log --svg"
        raise UserError(f"{what} needs a run id (or a unique prefix); `toolweave log` lists them")
    if run_id:
        run = log.get(run_id)
        if run is None:
            raise UserError(f"no single run matches {run_id!r}")
        if args.svg:
            from toolweave.cli._timeline import timeline_svg

            svg = timeline_svg(run.result)
            await asyncio.to_thread(_write, args.svg, svg)
            console.print(Text(f"the timeline of run {run.run_id}: {args.svg}"))
        else:
            console.print_json(json.dumps(run.result))
        return 0
    table = Table(box=None, header_style="bold")
    columns = ("run", "when", "model", "status", "tasks", "tokens", "cost", "seconds", "request")
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=48)
    for run in log.recent(args.limit):
        table.add_row(
            run.run_id,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created)),
            Text(one_line(run.model)),
            run.status,
            str(run.tasks),
            str(run.prompt_tokens + run.completion_tokens),
            _cost(run.result),
            f"{run.wall_time:.1f}",
            Text(one_line(run.request, 200)),
        )
    console.print(table)
    return 0


def _write(path: str, text: str) -> None:
    Path(path).expanduser().write_text(text)


def _cost(result: dict[str, Any]) -> str:
    """A logged run's cost; "?" where a call's price was unknown (or an older log entry)."""
    calls = result.get("calls", [])
    if "cost" not in result or any(c.get("cost") is None for c in calls):
        return "?"
    return f"{result['cost']:.4f}"
