"""The ``eval`` command: the built-in suites, a cases file over your tools, retrieval."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from toolweave.cli._options import load_tools
from toolweave.errors import UserError
from toolweave.models import LocalModel, Model, ReplayModel, recording, resolve_model

if TYPE_CHECKING:
    from rich.status import Status

    from toolweave.evals.cases import Suite
    from toolweave.evals.simulate import Simulation

__all__ = ["eval_command"]


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
    if args.embedder is not None or args.learn:
        flag = "--embedder" if args.embedder is not None else "--learn"
        raise UserError(f"{flag} is for `toolweave eval retrieval` only")
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
    from toolweave.evals.report import report

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

    from toolweave.evals.retrieval import ablation, holdout, learning_log, retrieval_sets
    from toolweave.evals.suites import seeded_sample
    from toolweave.retrieval._embedders import ReportingEmbedder, embedder_named

    embedder = embedder_named(args.embedder or "wordllama")

    table = Table(header_style="bold", box=None, padding=(0, 1), pad_edge=False)
    columns = {"set": "set", "stage": "stage", "queries": "n", "recall@1": "R@1"}
    columns |= {"recall@5": "R@5", "recall@10": "R@10", "ndcg@5": "nDCG@5"}
    columns |= {"complete@5": "C@5", "p50_ms": "p50 ms", "p95_ms": "p95 ms"}
    for key, label in columns.items():
        table.add_column(label, justify="left" if key in ("set", "stage") else "right")
    for name, spec in retrieval_sets().items():
        pool = holdout(spec.cases(), "test") if args.learn else spec.cases()
        cases = seeded_sample(pool, args.limit, args.seed)
        log = learning_log(name, cases) if args.learn else []
        doing = f"{name}: indexing, then {len(cases)} queries for each stage"
        with console.status(doing) as status:
            reporting = ReportingEmbedder(embedder, _counting(status, doing))
            reports = ablation(name, cases, embedder=reporting, learn=log)
        for report in reports:
            row = report.row()
            table.add_row(*(str(row[key]) for key in columns))
    console.print(table)
    return 0


def _counting(status: Status, doing: str) -> Callable[[int, int], None]:
    """A progress report for `ReportingEmbedder` that counts on the spinner's line."""
    return lambda done, total: status.update(f"{doing} ({done}/{total} documents embedded)")
