"""The REPL's slash commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from toolweave.cli._safe import one_line
from toolweave.cli._trace import event_to_dict
from toolweave.errors import UserError
from toolweave.fetcher import TaskState
from toolweave.models import Usage

if TYPE_CHECKING:
    from toolweave.cli._repl import Repl

__all__ = ["eval_case", "run_command"]


async def run_command(repl: Repl, line: str) -> bool:
    """Carry out a slash command; returns False to leave the REPL."""
    from toolweave.cli._repl import COMMANDS

    command, _, arg = line.partition(" ")
    arg = arg.strip()
    console, session = repl.console, repl.session
    if command in ("/exit", "/quit"):
        return False
    if command == "/help":
        table = Table(box=None, show_header=False)
        for name, text in COMMANDS.items():
            table.add_row(Text(name, "cyan"), text)
        console.print(table)
    elif command == "/tools":
        _tools(repl, arg)
    elif command == "/plan":
        if session.last_view is None or session.last is None:
            console.print(Text("no run yet", "dim"))
        elif arg.startswith("--svg"):
            target = arg.removeprefix("--svg").strip()
            if not target:
                console.print(Text("/plan --svg FILE", "dim"))
                return True
            from toolweave.cli._timeline import timeline_svg

            await asyncio.to_thread(_write, Path(target), timeline_svg(session.last.to_dict()))
            console.print(Text(f"the last run's timeline: {target}"))
        else:
            console.print(session.last_view.render(console.width))  # every row
    elif command == "/trace":
        origin = session.last.started_at if session.last else 0.0
        for event in session.last_events:
            console.print_json(json.dumps(event_to_dict(event, origin), default=str))
        if not session.last_events:
            console.print(Text("no run yet", "dim"))
    elif command == "/usage":
        _usage(repl)
    elif command == "/model":
        if arg:
            try:
                repl.switch_model(arg)
            except UserError as exc:
                console.print(Text(str(exc), "red"))
                return True
        console.print(Text(f"model: {one_line(repl.agent.model.name)}"))
    elif command == "/history":
        for number, request in enumerate(session.requests, 1):
            console.print(Text(f"{number:>3}  {one_line(request, 500)}"))
    elif command == "/save":
        if session.last is None or not arg:
            console.print(
                Text(
                    "/save FILE saves the last run; there is none yet" if arg else "/save FILE",
                    "dim",
                )
            )
        elif session.last.status != "finished":  # its calls and answer would be the gold
            console.print(
                Text(
                    f"the last run did not finish ({session.last.status}); /save keeps"
                    " a finished run as an eval case",
                    "dim",
                )
            )
        else:
            path = Path(arg)
            data = json.dumps(eval_case(session.last, repl.agent.model.name), indent=2)
            await asyncio.to_thread(_write, path, data)
            console.print(Text(f"saved the last run as an eval case: {path}"))
    elif command == "/learn":
        _learn(repl)
    elif command == "/new":
        repl.new_conversation()
        console.print(Text(f"a new conversation: {repl.chat.id}"))
    elif command == "/clear":
        console.clear()
    else:
        console.print(Text(f"unknown command {command}; /help lists them", "red"))
    return True


def _write(path: Path, text: str) -> None:
    path.expanduser().write_text(text)


def _tools(repl: Repl, query: str) -> None:
    console = repl.console
    if not query:
        for tool in repl.tools:
            console.print(
                Text(one_line(tool.signature()), "bold"), Text(one_line(tool.description, 160))
            )
        return
    retriever = repl.agent.retriever
    if retriever is None:
        retriever = repl.search_index
    if retriever is None:  # the agent offers every tool; this index is for /tools alone
        from toolweave.tools import Retriever

        retriever = repl.search_index = Retriever(repl.tools)
    table = Table(box=None, header_style="bold")
    for column in ("tool", "fused", "bm25", "dense"):
        table.add_column(column)
    for hit in retriever.search(query, 5):
        table.add_row(
            Text(one_line(hit.tool.name)), f"{hit.fused:.3f}", f"{hit.bm25:.2f}", f"{hit.dense:.3f}"
        )
    console.print(table)


def _learn(repl: Repl) -> None:
    console, last = repl.console, repl.session.last
    if last is None:
        console.print(Text("no run yet", "dim"))
        return
    try:
        taught = repl.agent.learn(last)
    except UserError as exc:
        console.print(Text(str(exc), "red"))
        return
    if repl.agent.retriever is None:
        console.print(
            Text("every tool is offered to the planner: there is no retriever to teach", "dim")
        )
    elif not taught:
        console.print(Text("the last run called no tool successfully: nothing to learn", "dim"))
    else:
        console.print(Text(f"learned: {one_line(', '.join(taught), 300)} for this request"))


def _usage(repl: Repl) -> None:
    session, console = repl.session, repl.console
    if session.last is None:
        console.print(Text("no run yet", "dim"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("call", "role", "prompt", "cached", "completion", "seconds", "cost"):
        table.add_column(column, justify="right" if column != "role" else "left")
    for number, call in enumerate(session.last.calls, 1):
        usage = call.usage
        table.add_row(
            str(number),
            call.role,
            str(usage.prompt_tokens),
            str(usage.cached_prompt_tokens),
            str(usage.completion_tokens),
            f"{call.duration:.2f}",
            _money(call.cost),
        )
    last = session.last
    total = sum((r.usage for r in session.results), Usage())
    cost = sum(r.cost for r in session.results)
    for label, usage, money in (("run", last.usage, last.cost), ("session", total, cost)):
        table.add_row(
            "",
            label,
            str(usage.prompt_tokens),
            str(usage.cached_prompt_tokens),
            str(usage.completion_tokens),
            "",
            _money(money),
        )
    console.print(table)
    console.print(
        Text("cached: prompt tokens read from the model's prefix cache, not evaluated", "dim")
    )
    models = {call.model for call in last.calls}
    if any(m.startswith("local") for m in models):
        console.print(Text("the local model runs on this machine: it costs 0", "dim"))
    if any(call.cost is None for call in last.calls):
        console.print(Text("? : no price for this model (Agent(prices={...}) sets one)", "dim"))


def _money(amount: float | None) -> str:
    return "?" if amount is None else f"{amount:.6f}"


def eval_case(result: object, model: str) -> dict[str, object]:
    """A finished run as an eval case: the request, its gold calls and answer."""
    from toolweave._result import RunResult

    assert isinstance(result, RunResult)
    tasks = [r for r in result.tasks.values() if r.state is TaskState.SUCCEEDED]
    return {
        "query": result.request,
        "answer": result.answer,
        "calls": [
            {"id": r.task.id, "tool": r.task.tool, "args": r.args, "deps": sorted(r.task.deps)}
            for r in tasks
        ],
        "plan": "\n".join(str(r.task) for r in tasks),
        "source": {"model": model, "run_id": result.run_id},
    }
