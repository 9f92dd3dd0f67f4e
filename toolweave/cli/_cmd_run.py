"""The ``run`` and ``demo`` commands: requests answered with a live task table.

`live_run` runs one request under the live view and prints its answer; both commands
use it, and ``run`` logs what it showed (``toolweave log`` lists it).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.live import Live
from rich.text import Text

from toolweave.agent import Agent
from toolweave.cli._options import load_tools, tracer_provider
from toolweave.cli._render import RunView, print_result
from toolweave.cli._safe import clean
from toolweave.errors import ToolweaveError, UserError
from toolweave.events import RunFinished
from toolweave.models import LocalModel, resolve_model
from toolweave.result import RunResult

__all__ = ["demo_command", "live_run", "run_command"]


async def _prepare(agent: Agent, console: Console) -> None:
    if isinstance(agent.model, LocalModel):
        with console.status("loading the local model (the first run also assembles its weights)"):
            await agent.model.load()
        with console.status("caching the prompts' stable prefixes"):
            await agent.warm_up()


async def run_command(args: argparse.Namespace, console: Console) -> int:
    """``toolweave run``: answer one request, live, or as JSON with ``--json``."""
    from toolweave import demo

    if not args.request.strip():
        raise UserError('the request is empty: toolweave run "QUESTION"')
    tools = load_tools(args.tools) if args.tools else demo.TOOLS
    model = resolve_model(args.model)
    agent = Agent(
        model,
        tools,
        max_replans=args.max_replans,
        time_limit=args.time_limit,
        examples=None if args.tools else demo.EXAMPLES,
        tracer_provider=tracer_provider(args),
    )
    async with agent:  # sources connect; the agent is closed at the end
        return await _answer(args, agent, model.name, console)


async def _answer(args: argparse.Namespace, agent: Agent, model: str, console: Console) -> int:
    if args.json:
        try:
            result = await agent.run(args.request)
        except ToolweaveError as exc:
            if exc.result is None:
                raise
            result = exc.result
        print(result.to_json(indent=2))
        return 0 if result.status == "finished" else 1
    await _prepare(agent, console)
    shown = await live_run(agent, args.request, console)
    if shown is not None:
        from toolweave.cli._runlog import RunLog

        RunLog().add(shown, model)
    return 0 if shown is not None and shown.status == "finished" else 1


async def demo_command(args: argparse.Namespace, console: Console) -> int:
    """``toolweave demo``: the demo's questions (or ``--question``s) with its tools."""
    from toolweave import demo

    model = resolve_model(args.model)
    questions = args.question or demo.QUESTIONS
    agent = Agent(
        model,
        demo.TOOLS,
        max_replans=args.max_replans,
        time_limit=args.time_limit,
        examples=demo.EXAMPLES,
        tracer_provider=tracer_provider(args),
    )
    console.rule("toolweave demo")
    console.print(
        f"model: {model.name} · tools: {', '.join(demo.TOOLS.names)}\n"
        f"Country lookups answer from the countryinfo dataset after {demo.LATENCY:g} s of "
        "simulated network latency; independent calls run in parallel."
    )
    await _prepare(agent, console)
    failures = 0
    try:
        for question in questions:
            console.print()
            console.rule(Text(question, "bold"))
            result = await live_run(agent, question, console)
            failures += result is None or result.status != "finished"
    finally:
        agent.close()
    return 1 if failures else 0


async def live_run(agent: Agent, request: str, console: Console) -> RunResult | None:
    """Run `request` with a live task table, then print the answer or the error."""
    view = RunView(max_rows=_live_rows(console))
    result: RunResult | None = None
    error: ToolweaveError | None = None
    with Live(view, console=console, refresh_per_second=8) as live:
        try:
            async with agent.stream(request) as events:
                async for event in events:
                    view.handle(event)
                    if isinstance(event, RunFinished):  # Live redraws 8 times a second
                        result = event.result
                        view.status = ""
                        live.refresh()
        except ToolweaveError as exc:
            error = exc
    if not console.is_terminal:
        console.line()  # a non-terminal Live leaves its last line open
    if error is not None:
        console.print(Text(f"{type(error).__name__}: {clean(error)}", "red"))
    if result is not None and result.answer is not None:
        print_result(console, result)
    return result


def _live_rows(console: Console) -> int:
    """How many task rows fit under the live view's notes and status."""
    return max(8, console.size.height - 6)
