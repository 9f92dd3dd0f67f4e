"""The ``tools``, ``log`` and ``eval`` commands, and registries named on the command line."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from toolweave.cli._safe import one_line
from toolweave.errors import UserError
from toolweave.models import LocalModel, Model, ReplayModel, recording, resolve_model
from toolweave.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from toolweave.evals.simulate import Simulation
    from toolweave.evals.suites import Suite

__all__ = [
    "eval_command",
    "load_registry",
    "load_tools",
    "log_command",
    "tools_list",
    "tools_search",
]

_SOURCE_KINDS = ("mcp:", "openapi:")


def load_tools(specs: str | Sequence[str]) -> ToolRegistry:
    """The registry that ``--tools`` strings name (see `ToolRegistry.from_specs`).

    One ``MODULE:ATTRIBUTE`` naming a registry gives that registry itself. Sources
    (``mcp:...``, ``openapi:...``) join when the registry is opened.
    """
    specs = [specs] if isinstance(specs, str) else list(specs)
    if len(specs) == 1 and not specs[0].startswith(_SOURCE_KINDS):
        module_name, _, attribute = specs[0].partition(":")
        if module_name and attribute:
            try:
                value = getattr(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError) as exc:
                raise UserError(f"cannot load tools from {specs[0]!r}: {exc}") from exc
            if isinstance(value, ToolRegistry):
                return value
    return ToolRegistry.from_specs(*specs)


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
    if spec.startswith(_SOURCE_KINDS):
        return load_tools(spec)
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
    if ":" not in spec:
        raise UserError(
            f"--registry wants {', '.join(builtin)}, MODULE:ATTR, a source "
            f"(mcp:..., openapi:...) or a JSON file of OpenAI tools, not {spec!r}"
        )
    return load_tools(spec)


def _index_dir(spec: str, registry: ToolRegistry) -> Path:
    from toolweave.models._weights import cache_dir

    digest = hashlib.sha256(spec.encode()).hexdigest()[:12]
    return cache_dir() / "index" / f"{Path(spec).stem or 'registry'}-{digest}"


async def tools_search(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.tools import Retriever

    registry = load_registry(args.registry)
    await registry.open()  # a source's tools (mcp:, openapi:) are listed when it opens
    try:
        with console.status(f"indexing {len(registry)} tools (cached after the first time)"):
            retriever = Retriever(registry, path=_index_dir(args.registry, registry))
    finally:
        await registry.aclose()
    table = Table(box=None, header_style="bold")
    hits = retriever.search(args.query, args.k, mode=args.mode)
    widest = max((len(hit.tool.name) for hit in hits), default=4)
    for column in ("#", "tool", "fused", "bm25", "dense", "description"):
        table.add_column(
            column,
            no_wrap=True,
            overflow="ellipsis",
            min_width=min(widest, 48) if column == "tool" else None,
        )
    for rank, hit in enumerate(hits, 1):
        table.add_row(
            str(rank),
            Text(one_line(hit.tool.name)),
            f"{hit.fused:.3f}",
            f"{hit.bm25:.2f}",
            f"{hit.dense:.3f}",
            Text(one_line(hit.tool.description, 120)),
        )
    console.print(table)
    return 0


async def tools_list(args: argparse.Namespace, console: Console) -> int:
    async with load_registry(args.registry) as registry:
        for item in registry:
            console.print(
                Text(one_line(item.signature()), "bold"), Text(one_line(item.description, 200))
            )
        console.print(Text(f"{len(registry)} tools", "dim"))
    return 0


async def log_command(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.cli._runlog import RunLog

    log = RunLog()
    run_id = args.show_id if args.run_id == "show" and args.show_id else args.run_id
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


async def eval_command(args: argparse.Namespace, console: Console) -> int:
    from toolweave.evals.suites import suites

    known = suites()
    if args.list or not args.suite:
        for name, suite in known.items():
            console.print(Text(name, "bold"), suite.description)
        console.print(
            Text("retrieval", "bold"),
            "tool retrieval on ToolE, Seal-Tools and ShortcutsBench (Recall@k, NDCG, latency)",
        )
        return 0
    if args.suite == "retrieval":
        return _retrieval(args, console)
    if args.suite not in known and Path(args.suite).suffix in (".jsonl", ".ndjson", ".json"):
        return await _user_cases(args, console)
    names = list(known) if args.suite == "all" else [args.suite]
    if unknown := [n for n in names if n not in known]:
        raise UserError(f"unknown suite {unknown[0]!r}; toolweave eval --list shows them")
    return await _evaluate(args, console, names)


async def _user_cases(args: argparse.Namespace, console: Console) -> int:
    """``toolweave eval cases.jsonl --tools SOURCE``: your cases over your tools."""
    from toolweave.evals.usercases import load_cases, user_suite

    load_cases(args.suite)  # a malformed file fails before any server starts
    if not args.tools:
        raise UserError("a cases file runs over your tools: give them with --tools")
    async with load_tools(args.tools) as tools:
        return await _evaluate(args, console, [user_suite(args.suite, tools)])


async def _evaluate(
    args: argparse.Namespace, console: Console, names: Sequence[str | Suite]
) -> int:
    from rich.progress import Progress

    from toolweave.evals.runner import run_eval
    from toolweave.evals.simulate import Simulation
    from toolweave.evals.strategies import STRATEGIES

    strategies = args.strategy or ["llmcompiler", "react", "parallel-fc"]
    if bad := [s for s in strategies if s not in STRATEGIES]:
        raise UserError(f"unknown strategy {bad[0]!r}; choose from {', '.join(STRATEGIES)}")
    needs_model = any(not s.startswith("oracle") for s in strategies)
    out = Path(args.out)
    latency = args.latency
    simulation = Simulation(seed=args.seed, latency=0.3 if latency is None else latency)
    if args.ray is not None:
        if args.record or args.replay or args.case:
            raise UserError("--record, --replay and --case run here, not with --ray")
        builtin = [name for name in names if isinstance(name, str)]
        if len(builtin) < len(names):
            raise UserError("--ray runs the built-in suites; a cases file runs here, without it")
        model_name = args.model if needs_model else None
        await _eval_on_ray(args, builtin, strategies, model_name, simulation, console)
        return _eval_report(out, console)
    model, timing = await _eval_model(args, console) if needs_model else (None, "measured")
    with Progress(console=console) as progress:
        for name in names:
            bar = progress.add_task(name if isinstance(name, str) else name.name, total=None)

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
                live_latency=latency or 0.0,
                timing=timing,
                case_ids=args.case,
                progress=advance,
            )
    return _eval_report(out, console)


async def _eval_on_ray(
    args: argparse.Namespace,
    names: list[str],
    strategies: list[str],
    model: str | None,
    simulation: Simulation,
    console: Console,
) -> None:
    """One sweep over every suite on Ray workers (each its own model), one progress bar."""
    from rich.progress import Progress

    try:
        from toolweave.evals._ray_sweep import run_eval_ray
    except ImportError as exc:
        raise UserError(f"--ray needs Ray: pip install 'toolweave[ray]' ({exc})") from exc

    workers = args.workers or os.cpu_count() or 1
    with Progress(console=console) as progress:
        bar = progress.add_task(f"{'+'.join(names)} on {workers} Ray workers", total=None)
        await run_eval_ray(
            names,
            strategies,
            model,
            Path(args.out),
            workers=workers,
            address=None if args.ray == "local" else args.ray,
            limit=args.limit,
            seed=args.seed,
            concurrency=args.concurrency,
            simulation=simulation,
            progress=lambda done, total: progress.update(bar, completed=done, total=total),
        )


def _eval_report(out: Path, console: Console) -> int:
    """Write the report of results.jsonl and print its summary table."""
    from toolweave.evals.runner import report

    data = report(out)
    from rich.table import Table

    table = Table(header_style="bold", box=None)
    for column in (
        "suite",
        "strategy",
        "cases",
        "api_f1",
        "api_recall",
        "arg_acc",
        "edge_f1",
        "answer",
        "lookups",
        "ask",
        "latency s",
        "tokens",
        "cost",
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
                mean("api_recall"),
                mean("arg_acc"),
                mean("edge_f1"),
                mean("answer_ok"),
                mean("lookups_ok"),
                mean("ask_ok"),
                mean("latency", 2),
                f"{tokens:.0f}",
                mean("cost", 6),
            )
    console.print(table)
    console.print(Text(f"results: {out / 'results.jsonl'} · report: {out / 'report.md'}", "dim"))
    return 0 if data else 1


async def _eval_model(args: argparse.Namespace, console: Console) -> tuple[Model, str]:
    """The model of an evaluation (recorded or replayed on request) and its timing label."""
    if args.replay:
        try:
            ttft, tps = (float(x) for x in args.pace.split(","))
        except ValueError:
            raise UserError(f"--pace wants TTFT,TPS (e.g. 0.4,80), not {args.pace!r}") from None
        record = Path(args.replay) / "calls.jsonl"
        if not record.is_file() and record.with_suffix(".jsonl.gz").is_file():
            record = record.with_suffix(".jsonl.gz")  # a committed record, compressed
        if not record.is_file():
            raise UserError(f"no record at {record}: make one with --record {args.replay}")
        replay = ReplayModel.load(record, ttft=ttft, tokens_per_second=tps)
        return replay, f"replayed at {ttft:g} s TTFT, {tps:g} tokens/s"
    model = resolve_model(args.model)
    if isinstance(model, LocalModel):
        if args.threads:
            model.n_threads = args.threads
        with console.status("loading the local model"):
            await model.load()
    if args.record:
        model = recording(model, Path(args.record) / "calls.jsonl")
    return model, "measured"


def _retrieval(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.evals.retrieval import ablation, retrieval_sets
    from toolweave.evals.suites import seeded_sample

    table = Table(header_style="bold", box=None, padding=(0, 1), pad_edge=False)
    columns = {"set": "set", "stage": "stage", "queries": "n", "recall@1": "R@1"}
    columns |= {"recall@5": "R@5", "recall@10": "R@10", "ndcg@5": "nDCG@5"}
    columns |= {"complete@5": "C@5", "p50_ms": "p50 ms", "p95_ms": "p95 ms"}
    for key, label in columns.items():
        table.add_column(label, justify="left" if key in ("set", "stage") else "right")
    for name, spec in retrieval_sets().items():
        cases = seeded_sample(spec.cases(), args.limit, args.seed)
        with console.status(f"{name}: indexing, then {len(cases)} queries for each stage"):
            reports = ablation(name, cases)
        for report in reports:
            row = report.row()
            table.add_row(*(str(row[key]) for key in columns))
    console.print(table)
    return 0
