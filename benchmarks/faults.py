"""The fault campaign: random DAGs, a misbehaving endpoint, hostile text, tampered and
replayed state, concurrent session writers, hostile MCP servers and HTTP services,
secrets in every sink. Prints figures.

Usage:
    python benchmarks/faults.py [--runs 10000] [--max-tasks 1000] [--examples 1000]
        [--concurrency 16] [--resume-inputs 1000] [--sections dag,endpoint,...]
        [--report benchmarks/reports/faults.md]

The fast subset runs in CI as tests/faults/test_fault_campaign.py; this script runs the whole
campaign and writes its figures to a Markdown report.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # openai_server

import faults_dag
import faults_endpoint
import faults_http
import faults_mcp
import faults_resume
import faults_state
import faults_text

SECTIONS = ("dag", "endpoint", "text", "resume", "state", "mcp", "http")


def leftovers(threads_before: int, grace: float = 5.0) -> tuple[int, int]:
    """Threads and worker processes still alive once abandoned calls had time to end."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (
        threading.active_count() > threads_before or multiprocessing.active_children()
    ):
        time.sleep(0.05)
    return max(threading.active_count() - threads_before, 0), len(multiprocessing.active_children())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--max-tasks", type=int, default=1000)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume-inputs", type=int, default=1000)
    parser.add_argument(
        "--sections",
        type=lambda text: text.split(","),
        default=list(SECTIONS),
        help=f"which parts to run, comma-separated (default all: {','.join(SECTIONS)})",
    )
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    threads_before = threading.active_count()
    lines = [
        "# Fault campaign",
        "",
        f"`python benchmarks/faults.py --runs {args.runs} --max-tasks {args.max_tasks} "
        f"--examples {args.examples} --concurrency {args.concurrency} --seed {args.seed} "
        f"--resume-inputs {args.resume_inputs} --sections {','.join(args.sections)}` "
        f"on {platform.python_implementation()} {platform.python_version()}, "
        f"{multiprocessing.cpu_count()} cores.",
        "",
    ]

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    shown = 0

    def progress(stats: faults_dag.Stats) -> None:
        nonlocal shown
        for violation in stats.violations[shown:]:
            print(f"  violation: {violation}", file=sys.stderr, flush=True)
        shown = len(stats.violations)
        if stats.runs % 500 == 0:
            print(
                f"  {stats.runs} runs, {stats.tasks} tasks, {len(stats.violations)} violations",
                file=sys.stderr,
                flush=True,
            )

    violations: list[str] = []
    lost = 0
    if "dag" in args.sections:
        dag = asyncio.run(
            faults_dag.campaign(
                args.runs,
                max_tasks=args.max_tasks,
                seed=args.seed,
                concurrency=args.concurrency,
                progress=progress,
            )
        )
        say("## Random DAGs")
        say()
        say(f"- runs: {dag.runs} ({dag.replans} with a replan, {dag.cancelled} cancelled mid-run)")
        say(
            f"- tasks: {dag.tasks} (largest run {dag.largest}): {dag.succeeded} succeeded, "
            f"{dag.failed} failed, {dag.skipped} skipped; {dag.rejected_lines} rejected lines"
        )
        say(
            f"- hangs: {dag.hangs}; lost results: {dag.lost_results}; asyncio tasks left: "
            f"{dag.leaked_tasks}; invariant violations: {len(dag.violations)}"
        )
        say(
            f"- wall time: {dag.seconds:.1f} s; slowest run: {dag.slowest:.1f} s (bound: "
            f"{faults_dag.RUN_BOUND:g} s)"
        )
        threads, processes = leftovers(threads_before)
        say(f"- threads left after the campaign: {threads}; worker processes left: {processes}")
        say()
        violations += dag.violations
        lost = dag.lost_results

    if "endpoint" in args.sections:
        endpoint = asyncio.run(faults_endpoint.campaign())
        say("## Endpoint faults (loopback OpenAI-protocol server)")
        say()
        say("| fault | survived | seconds | outcome |")
        say("| --- | --- | ---: | --- |")
        for outcome in endpoint:
            detail = outcome.detail.replace("|", "/")[:140]
            survived = "yes" if outcome.ok else "NO"
            say(f"| {outcome.name} | {survived} | {outcome.seconds:.2f} | {detail} |")
        say()
        say(f"- faults survived: {sum(o.ok for o in endpoint)} of {len(endpoint)}")
        say()
        violations += [o.name for o in endpoint if not o.ok]

    if "text" in args.sections:
        text = faults_text.campaign(args.examples)
        say("## Hostile text (hypothesis)")
        say()
        say(
            f"- inputs tried: {text.inputs} (plans with {text.plan_items} items, "
            f"{text.rejected_lines} rejected lines)"
        )
        say(
            f"- runs answered: {text.runs_answered}; ended in a clear error with their result: "
            f"{text.runs_failed_cleanly}; violations: {len(text.violations)}"
        )
        say()
        violations += text.violations

    # each of these campaigns reports its own section and its violations
    campaigns: dict[str, Callable[[], Any]] = {
        "resume": lambda: asyncio.run(faults_resume.campaign(args.resume_inputs, seed=args.seed)),
        "state": faults_state.campaign,
        "mcp": lambda: asyncio.run(faults_mcp.campaign()),
        "http": lambda: asyncio.run(faults_http.campaign()),
    }
    reports: dict[str, Callable[[Any], list[str]]] = {
        "resume": faults_resume.report,
        "state": faults_state.report,
        "mcp": faults_mcp.report,
        "http": faults_http.report,
    }
    for name, campaign in campaigns.items():
        if name in args.sections:
            stats = campaign()
            for line in reports[name](stats):
                say(line)
            say()
            violations += stats.violations

    threads, processes = leftovers(threads_before)
    if threads or processes:
        violations.append(f"{threads} thread(s), {processes} process(es) left")
    say(f"**Total: {len(violations)} violation(s), {lost} lost results.**")
    for violation in violations[:50]:
        say(f"- {violation}")
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text("\n".join(lines) + "\n")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
