"""The ``toolweave`` command: ``run`` a request, ``demo`` the agent on the local model."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from toolweave._result import RunResult
from toolweave.agent import Agent
from toolweave.cli._render import RunView, print_result
from toolweave.errors import ToolweaveError, UserError
from toolweave.events import RunFinished
from toolweave.models import LocalModel, resolve_model
from toolweave.tools import Tool, ToolRegistry

__all__ = ["main"]

Handler = Callable[[argparse.Namespace, Console], Coroutine[Any, Any, int]]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolweave`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, highlight=False)
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, console))
    except UserError as exc:
        console.print(Text(f"error: {exc}", "red"))
        return 2
    except KeyboardInterrupt:
        console.print(Text("interrupted", "red"))
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolweave",
        description="Compile requests into parallel plans of tool calls, and run them.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="answer a request with the agent")
    run.add_argument("request", help="the question or task, in quotes")
    _agent_options(run)
    run.add_argument("--json", action="store_true", help="print the whole run as JSON")
    run.set_defaults(handler=_run)

    tools = commands.add_parser("tools", help="list or search a tool registry")
    tool_commands = tools.add_subparsers(required=True, metavar="ACTION")
    search = tool_commands.add_parser("search", help="the retriever's top matches, with scores")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="how many tools (default 5)")
    search.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid")
    listing = tool_commands.add_parser("list", help="every tool with its signature")
    for sub in (search, listing):
        sub.add_argument(
            "--registry",
            default="toolweave.demo:TOOLS",
            help="toole, sealtools, shortcutsbench, autotools, MODULE:ATTR, or a JSON file "
            "of OpenAI tools (default: the demo tools)",
        )
    search.set_defaults(handler=_tools_search)
    listing.set_defaults(handler=_tools_list)

    repl = commands.add_parser("repl", help="ask interactively, with a live plan")
    _agent_options(repl)
    repl.add_argument("--registry", help="a registry instead of --tools (see: tools search)")
    repl.add_argument("--vi", action="store_true", help="Vi key bindings")
    repl.set_defaults(handler=_repl)

    log = commands.add_parser("log", help="list past runs, or show one")
    log.add_argument("run_id", nargs="?", help="a run id (or a unique prefix)")
    log.add_argument("--limit", type=int, default=20)
    log.set_defaults(handler=_log)

    evaluate = commands.add_parser("eval", help="run the evaluation suite")
    evaluate.add_argument("suite", nargs="?", help="a suite name (see --list), or 'all'")
    evaluate.add_argument("--list", action="store_true", help="list the suites")
    evaluate.add_argument(
        "--strategy",
        action="append",
        help="llmcompiler, react, parallel-fc, oracle, oracle-drop, oracle-swap, "
        "oracle-falsedep (repeatable; default: the first three)",
    )
    evaluate.add_argument("--model", default="local")
    evaluate.add_argument("--limit", type=int, default=None, help="a seeded sample of N cases")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--concurrency", type=int, default=1)
    evaluate.add_argument("--latency", type=float, default=0.3, help="median tool latency, s")
    evaluate.add_argument("--out", default="eval-results", help="results directory")
    evaluate.set_defaults(handler=_eval)

    demo = commands.add_parser("demo", help="the agent on the local model, with demo tools")
    _agent_options(demo, tools=False)
    demo.add_argument("--question", action="append", help="ask this instead (repeatable)")
    demo.set_defaults(handler=_demo)
    return parser


def _agent_options(parser: argparse.ArgumentParser, *, tools: bool = True) -> None:
    parser.add_argument(
        "--model",
        default="local",
        help="'local' (default), 'local:<file.gguf>', 'openai:<model>', 'openai:<model>@<url>'",
    )
    if tools:
        parser.add_argument(
            "--tools",
            metavar="MODULE:ATTR",
            help="a list of tools or a ToolRegistry to use (default: the demo tools)",
        )
    parser.add_argument("--max-replans", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per run")


def load_tools(spec: str) -> ToolRegistry:
    """Import ``module:attribute`` and return it as a registry."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"--tools wants MODULE:ATTRIBUTE, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
        value = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot load tools from {spec!r}: {exc}") from exc
    if isinstance(value, ToolRegistry):
        return value
    if isinstance(value, list | tuple) and all(isinstance(t, Tool) for t in value):
        return ToolRegistry(value)
    raise UserError(f"{spec} is neither a ToolRegistry nor a list of tools")


def load_registry(spec: str) -> ToolRegistry:
    """A registry from a built-in set's name, ``MODULE:ATTR``, or a JSON file of tools."""
    from toolweave.evals import registries

    builtin = {
        "toole": registries.load_toole,
        "sealtools": registries.load_sealtools,
        "shortcutsbench": registries.load_shortcutsbench,
        "autotools": registries.load_autotools,
    }
    if spec in builtin:
        return builtin[spec]()
    path = Path(spec).expanduser()
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UserError(f"no registry file {path}")
        try:
            entries = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} is not JSON: {exc}") from exc
        registry = ToolRegistry()
        for entry in entries if isinstance(entries, list) else [entries]:
            fn = entry.get("function", entry) if isinstance(entry, dict) else None
            if not isinstance(fn, dict) or "name" not in fn:
                raise UserError(f"{path}: expected OpenAI tools ({{'function': {{'name': ...}}}})")
            registry.add(
                Tool.from_schema(fn["name"], fn.get("description", ""), fn.get("parameters"))
            )
        return registry
    return load_tools(spec)


def _index_dir(spec: str, registry: ToolRegistry) -> Path:
    from toolweave.models._weights import cache_dir

    digest = hashlib.sha256(spec.encode()).hexdigest()[:12]
    return cache_dir() / "index" / f"{Path(spec).stem or 'registry'}-{digest}"


async def _tools_search(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.tools import Retriever

    registry = load_registry(args.registry)
    with console.status(f"indexing {len(registry)} tools (cached after the first time)"):
        retriever = Retriever(registry, path=_index_dir(args.registry, registry))
    table = Table(box=None, header_style="bold")
    for column in ("#", "tool", "fused", "bm25", "dense", "description"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for rank, hit in enumerate(retriever.search(args.query, args.k, mode=args.mode), 1):
        table.add_row(
            str(rank),
            hit.tool.name,
            f"{hit.fused:.3f}",
            f"{hit.bm25:.2f}",
            f"{hit.dense:.3f}",
            " ".join(hit.tool.description.split())[:120],
        )
    console.print(table)
    return 0


async def _tools_list(args: argparse.Namespace, console: Console) -> int:
    registry = load_registry(args.registry)
    for item in registry:
        console.print(
            Text(item.signature(), "bold"), Text(" ".join(item.description.split())[:200])
        )
    console.print(Text(f"{len(registry)} tools", "dim"))
    return 0


async def _repl(args: argparse.Namespace, console: Console) -> int:
    from toolweave import demo
    from toolweave.cli._repl import Repl

    if args.registry:
        tools, examples = load_registry(args.registry), None
    elif args.tools:
        tools, examples = load_tools(args.tools), None
    else:
        tools, examples = demo.TOOLS, demo.EXAMPLES
    return await Repl(console, args.model, tools, examples=examples, vi=args.vi).run()


async def _log(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.cli._runlog import RunLog

    log = RunLog()
    if args.run_id:
        run = log.get(args.run_id)
        if run is None:
            raise UserError(f"no single run matches {args.run_id!r}")
        console.print_json(json.dumps(run.result))
        return 0
    table = Table(box=None, header_style="bold")
    for column in ("run", "when", "model", "status", "tasks", "tokens", "seconds", "request"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=48)
    for run in log.recent(args.limit):
        table.add_row(
            run.run_id,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created)),
            run.model,
            run.status,
            str(run.tasks),
            str(run.prompt_tokens + run.completion_tokens),
            f"{run.wall_time:.1f}",
            run.request,
        )
    console.print(table)
    return 0


async def _eval(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import Progress

    from toolweave.evals.runner import report, run_eval
    from toolweave.evals.simulate import Simulation
    from toolweave.evals.strategies import STRATEGIES
    from toolweave.evals.suites import suites

    known = suites()
    if args.list or not args.suite:
        for name, suite in known.items():
            console.print(Text(name, "bold"), suite.description)
        return 0
    names = list(known) if args.suite == "all" else [args.suite]
    if unknown := [n for n in names if n not in known]:
        raise UserError(f"unknown suite {unknown[0]!r}; toolweave eval --list shows them")
    strategies = args.strategy or ["llmcompiler", "react", "parallel-fc"]
    if bad := [s for s in strategies if s not in STRATEGIES]:
        raise UserError(f"unknown strategy {bad[0]!r}; choose from {', '.join(STRATEGIES)}")
    needs_model = any(not s.startswith("oracle") for s in strategies)
    model = resolve_model(args.model) if needs_model else None
    if isinstance(model, LocalModel):
        with console.status("loading the local model"):
            await model.load()
    out = Path(args.out)
    simulation = Simulation(seed=args.seed, latency=args.latency)
    with Progress(console=console) as progress:
        for name in names:
            bar = progress.add_task(name, total=None)

            def advance(done: int, total: int, bar: Any = bar) -> None:
                progress.update(bar, completed=done, total=total)

            await run_eval(
                name,
                strategies,
                model,
                out,
                limit=args.limit,
                seed=args.seed,
                concurrency=args.concurrency,
                simulation=simulation,
                progress=advance,
            )
    data = report(out)
    from rich.table import Table

    table = Table(header_style="bold", box=None)
    for column in (
        "suite",
        "strategy",
        "cases",
        "api_f1",
        "edge_f1",
        "answer",
        "latency s",
        "tokens",
    ):
        table.add_column(column, justify="left" if column in ("suite", "strategy") else "right")
    for suite_name, entries in data.items():
        for strategy, entry in entries.items():

            def mean(key: str, digits: int = 3, entry: dict[str, Any] = entry) -> str:
                return f"{entry[key]['mean']:.{digits}f}" if key in entry else "-"

            tokens = sum(
                entry.get(k, {}).get("mean", 0) for k in ("prompt_tokens", "completion_tokens")
            )
            table.add_row(
                suite_name,
                strategy,
                str(entry["cases"]),
                mean("api_f1"),
                mean("edge_f1"),
                mean("answer_ok"),
                mean("latency", 2),
                f"{tokens:.0f}",
            )
    console.print(table)
    console.print(Text(f"results: {out / 'results.jsonl'} · report: {out / 'report.md'}", "dim"))
    return 0 if data else 1


async def _prepare(agent: Agent, console: Console) -> None:
    if isinstance(agent.model, LocalModel):
        with console.status("loading the local model (the first run also assembles its weights)"):
            await agent.model.load()
        with console.status("caching the prompts' stable prefixes"):
            await agent.warm_up()


async def _run(args: argparse.Namespace, console: Console) -> int:
    from toolweave import demo

    tools = load_tools(args.tools) if args.tools else demo.TOOLS
    model = resolve_model(args.model)
    agent = Agent(
        model,
        tools,
        max_replans=args.max_replans,
        time_limit=args.time_limit,
        examples=None if args.tools else demo.EXAMPLES,
    )
    try:
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

            RunLog().add(shown, model.name)
        return 0 if shown is not None and shown.status == "finished" else 1
    finally:
        agent.close()


async def _demo(args: argparse.Namespace, console: Console) -> int:
    from toolweave import demo

    model = resolve_model(args.model)
    questions = args.question or demo.QUESTIONS
    agent = Agent(
        model,
        demo.TOOLS,
        max_replans=args.max_replans,
        time_limit=args.time_limit,
        examples=demo.EXAMPLES,
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
    view = RunView()
    result: RunResult | None = None
    error: ToolweaveError | None = None
    with Live(view, console=console, refresh_per_second=8) as live:
        try:
            async with agent.stream(request) as events:
                async for event in events:
                    view.handle(event)
                    if isinstance(event, RunFinished):
                        result = event.result
                        view.status = ""
                    live.refresh()
        except ToolweaveError as exc:
            error = exc
    if not console.is_terminal:
        console.line()  # a non-terminal Live leaves its last line open
    if error is not None:
        console.print(Text(f"{type(error).__name__}: {error}", "red"))
    if result is not None and result.answer is not None:
        print_result(console, result)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
