"""The REPL's slash commands: a table of command names to handlers and help lines.

`COMMANDS` is the table, in the order ``/help`` lists it (the REPL completes from it
too); `run_command` looks a line's command up and runs its handler. A handler sees the
REPL through `ReplHost`, what a command may use of it, so that this module does not
import the REPL (`toolweave.cli._repl`) that runs it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolweave.agent import Agent
from toolweave.cli._repl_state import ReplState
from toolweave.cli._safe import one_line
from toolweave.cli._trace import event_to_dict
from toolweave.errors import UserError
from toolweave.fetcher import TaskState
from toolweave.models import Usage
from toolweave.result import RunResult
from toolweave.retrieval import Retriever
from toolweave.session import Session as Conversation
from toolweave.tools import ToolRegistry

__all__ = ["COMMANDS", "ReplHost", "SlashCommand", "eval_case", "run_command"]


class ReplHost(Protocol):
    """What a slash command may use of the REPL (`toolweave.cli._repl.Repl`)."""

    console: Console
    tools: ToolRegistry
    agent: Agent
    search_index: Retriever | None
    """``/tools``' own index, when the agent has no retriever."""
    state: ReplState
    chat: Conversation

    def switch_model(self, name: str) -> None:
        """Use another model from now on."""

    def new_conversation(self) -> None:
        """Start over: the next request sees no earlier turn."""


Handler = Callable[[ReplHost, str], Awaitable[None]]
"""A command's work, given the REPL and the text after the command's name."""


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """One slash command.

    Attributes:
        help: Its line in ``/help`` and in the completion menu.
        handler: What it does.
        leaves: The REPL ends after it.
    """

    help: str
    handler: Handler
    leaves: bool = False


async def run_command(repl: ReplHost, line: str) -> bool:
    """Carry out a slash command; returns False to leave the REPL."""
    name, _, arg = line.partition(" ")
    command = COMMANDS.get(_ALIASES.get(name, name))
    if command is None:
        repl.console.print(Text(f"unknown command {name}; /help lists them", "red"))
        return True
    await command.handler(repl, arg.strip())
    return not command.leaves


def _write(path: Path, text: str) -> None:
    path.expanduser().write_text(text)


async def _help(repl: ReplHost, arg: str) -> None:
    table = Table(box=None, show_header=False)
    for name, command in COMMANDS.items():
        table.add_row(Text(name, "cyan"), command.help)
    repl.console.print(table)


async def _tools(repl: ReplHost, query: str) -> None:
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
        retriever = repl.search_index = Retriever(repl.tools)
    table = Table(box=None, header_style="bold")
    for column in ("tool", "fused", "bm25", "dense"):
        table.add_column(column)
    for hit in retriever.search(query, 5):
        table.add_row(
            Text(one_line(hit.tool.name)), f"{hit.fused:.3f}", f"{hit.bm25:.2f}", f"{hit.dense:.3f}"
        )
    console.print(table)


async def _plan(repl: ReplHost, arg: str) -> None:
    console, state = repl.console, repl.state
    if state.last_view is None or state.last is None:
        console.print(Text("no run yet", "dim"))
    elif arg.startswith("--svg"):
        target = arg.removeprefix("--svg").strip()
        if not target:
            console.print(Text("/plan --svg FILE", "dim"))
            return
        from toolweave.cli._timeline import timeline_svg

        await asyncio.to_thread(_write, Path(target), timeline_svg(state.last.to_dict()))
        console.print(Text(f"the last run's timeline: {target}"))
    else:
        console.print(state.last_view.render(console.width))  # every row


async def _trace(repl: ReplHost, arg: str) -> None:
    console, state = repl.console, repl.state
    origin = state.last.started_at if state.last else 0.0
    for event in state.last_events:
        console.print_json(json.dumps(event_to_dict(event, origin), default=str))
    if not state.last_events:
        console.print(Text("no run yet", "dim"))


async def _usage(repl: ReplHost, arg: str) -> None:
    state, console = repl.state, repl.console
    if state.last is None:
        console.print(Text("no run yet", "dim"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("call", "role", "prompt", "cached", "completion", "seconds", "cost"):
        table.add_column(column, justify="right" if column != "role" else "left")
    for number, call in enumerate(state.last.calls, 1):
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
    last = state.last
    total = sum((r.usage for r in state.results), Usage())
    cost = sum(r.cost for r in state.results)
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


async def _new(repl: ReplHost, arg: str) -> None:
    repl.new_conversation()
    repl.console.print(Text(f"a new conversation: {repl.chat.id}"))


async def _model(repl: ReplHost, name: str) -> None:
    if name:
        try:
            repl.switch_model(name)
        except UserError as exc:
            repl.console.print(Text(str(exc), "red"))
            return
    repl.console.print(Text(f"model: {one_line(repl.agent.model.name)}"))


async def _history(repl: ReplHost, arg: str) -> None:
    for number, request in enumerate(repl.state.requests, 1):
        repl.console.print(Text(f"{number:>3}  {one_line(request, 500)}"))


async def _save(repl: ReplHost, arg: str) -> None:
    console, last = repl.console, repl.state.last
    if last is None or not arg:
        message = "/save FILE saves the last run; there is none yet" if arg else "/save FILE"
        console.print(Text(message, "dim"))
    elif last.status != "finished":  # its calls and answer would be the gold
        console.print(
            Text(
                f"the last run did not finish ({last.status}); /save keeps"
                " a finished run as an eval case",
                "dim",
            )
        )
    else:
        path = Path(arg)
        data = json.dumps(eval_case(last, repl.agent.model.name), indent=2)
        await asyncio.to_thread(_write, path, data)
        console.print(Text(f"saved the last run as an eval case: {path}"))


def eval_case(result: RunResult, model: str) -> dict[str, object]:
    """A finished run as an eval case: the request, its gold calls and answer."""
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


async def _learn(repl: ReplHost, arg: str) -> None:
    console, last = repl.console, repl.state.last
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


async def _clear(repl: ReplHost, arg: str) -> None:
    repl.console.clear()


async def _leave(repl: ReplHost, arg: str) -> None:
    """Nothing to do: the REPL closes the agent and says how to resume."""


COMMANDS: Mapping[str, SlashCommand] = {
    "/help": SlashCommand("this list", _help),
    "/tools": SlashCommand(
        "/tools [query]: the tools, or the retriever's best matches with scores", _tools
    ),
    "/plan": SlashCommand(
        "the last run's plan (its DAG, with states and times); /plan --svg FILE: a timeline",
        _plan,
    ),
    "/trace": SlashCommand("the last run's events, as JSON", _trace),
    "/usage": SlashCommand(
        "tokens and cost per model call in the last run, and the session's totals", _usage
    ),
    "/new": SlashCommand(
        "start a new conversation (follow-ups see the earlier turns until then)", _new
    ),
    "/model": SlashCommand(
        "/model [name]: show the model, or switch (local, openai:<model>[@url])", _model
    ),
    "/history": SlashCommand("the requests of this session", _history),
    "/save": SlashCommand("/save FILE: the last run as an eval case (JSON)", _save),
    "/learn": SlashCommand(
        "teach the retriever that the last run's tools served its request", _learn
    ),
    "/clear": SlashCommand("clear the screen", _clear),
    "/exit": SlashCommand("leave (Ctrl-D works too)", _leave, leaves=True),
}
"""Every command, in the order ``/help`` lists them."""

_ALIASES = {"/quit": "/exit"}
"""Other names a command answers to, left out of ``/help``."""
