"""Wall time of an evaluation sweep on Ray against the same sweep run in this process.

The same cases, strategies and simulated tools three ways: locally one case at a time
(the CLI's default), locally with as many cases at once as there are workers, and on
Ray with that many workers (each its own model, one case at a time). The model is a
`FunctionModel` with a simulated time to first token and token rate, so the strategies
spend their time as against an endpoint. The rows' scores must be the same all three
ways (checked); the wall times and their ratios are printed. Starting the local Ray
instance is timed apart: a cluster that is already up does not pay it.

Usage: python benchmarks/ray_sweep.py [--workers 2] [--limit 12] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from toolweave.evals._ray_sweep import run_eval_ray
from toolweave.evals.runner import run_eval
from toolweave.evals.simulate import Simulation
from toolweave.models.testing import FunctionModel

SUITES = {"autotools": ["oracle", "oracle-drop"], "parallelqa": ["llmcompiler"]}


def respond(messages: list[dict[str, str]], settings: object) -> str:
    """A scripted planner and joiner: a fan-out of searches sized by the question."""
    user = messages[-1]["content"]
    if "Results:" in user:
        return "Action: Finish(done)"
    words = user.removeprefix("Question: ").split()
    searches = 2 + len(words) % 3
    plan = [f'{i}. search(query="{words[i % len(words)]}")' for i in range(1, searches + 1)]
    refs = " and ".join(f"${i}" for i in range(1, searches + 1))
    plan.append(f'{searches + 1}. math(problem="compare {refs}")')
    return "\n".join([*plan, "join()"])


def model() -> FunctionModel:
    return FunctionModel(respond, ttft=0.2, tokens_per_second=60)


def scores(out: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        row.pop("latency")
        rows[row["suite"], row["strategy"], row["id"]] = row
    return rows


async def local(out: Path, args: argparse.Namespace, concurrency: int) -> float:
    started = time.perf_counter()
    for suite, strategies in SUITES.items():
        await run_eval(
            suite,
            strategies,
            model(),
            out,
            limit=args.limit,
            concurrency=concurrency,
            simulation=Simulation(latency=args.latency),
        )
    return time.perf_counter() - started


async def on_ray(out: Path, args: argparse.Namespace) -> tuple[float, float]:
    """The sweep's wall time, and how much of it passed before each suite's first row."""
    started = time.perf_counter()
    warmup = 0.0
    for suite, strategies in SUITES.items():
        begun, first = time.perf_counter(), []
        await run_eval_ray(
            [suite],
            strategies,
            model,  # made in each worker
            out,
            workers=args.workers,
            limit=args.limit,
            simulation=Simulation(latency=args.latency),
            progress=lambda done, total, first=first: first.append(time.perf_counter()),
        )
        warmup += first[0] - begun
    return time.perf_counter() - started, warmup


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=12, help="cases per suite")
    parser.add_argument("--latency", type=float, default=0.3, help="median tool latency, s")
    args = parser.parse_args()
    rows = sum(args.limit * len(s) for s in SUITES.values())
    print(f"{rows} rows: {', '.join(f'{k} x {v}' for k, v in SUITES.items())}")
    print(f"simulated tools {args.latency}s median; model ttft 0.2s, 60 tokens/s\n")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        serial = await local(base / "serial", args, 1)
        parallel = await local(base / "parallel", args, args.workers)
        started = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - started
        try:
            swept, warmup = await on_ray(base / "ray", args)
        finally:
            ray.shutdown()
        same = scores(base / "ray") == scores(base / "serial") == scores(base / "parallel")
    print(f"{'run':<44} {'wall s':>8} {'vs serial':>10}")
    for name, wall in (
        ("local, one case at a time", serial),
        (f"local, {args.workers} cases at a time", parallel),
        (f"ray, {args.workers} workers x 1 case", swept),
    ):
        print(f"{name:<44} {wall:8.2f} {serial / wall:9.2f}x")
    print(
        f"\nray: {warmup:.2f}s of its wall time passed before the first row of each suite "
        "(workers start, make their model, prepare the suite)"
    )
    print(f"starting the local Ray instance (not counted above): {ray_start:.2f}s")
    print(f"same rows (all but latency) all three ways: {same}")


if __name__ == "__main__":
    asyncio.run(main())
