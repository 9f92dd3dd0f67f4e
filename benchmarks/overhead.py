"""Scheduling overhead per task, against a floor measured in the same run.

The floor is the least any asyncio DAG runner can do: `graphlib.TopologicalSorter`
bookkeeping plus one asyncio task per call, woken by call completions, for the same
graph and the same no-op async tool. toolweave's `execute` adds what a real run needs
on top: argument validation against the tool's schema, the executor's policy checks
(approval, limits, timeouts, retries), per-task results with timings, skipping on
failure. The target is at most 2x the floor, flat from 100 to 10,000 tasks.

Usage: python benchmarks/overhead.py [--repeat N] [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
from collections.abc import Callable, Coroutine
from graphlib import TopologicalSorter
from typing import Any

from toolweave import PlanTask, execute, tool
from toolweave.events import Event


@tool
async def noop() -> None:
    """Do nothing."""


def shape(name: str, n: int, seed: int = 0) -> dict[int, frozenset[int]]:
    rng = random.Random(seed)
    if name == "wide":
        return {i: frozenset() for i in range(1, n + 1)}
    if name == "chain":
        return {i: frozenset({i - 1} if i > 1 else ()) for i in range(1, n + 1)}
    graph = {}
    for i in range(1, n + 1):
        k = min(rng.choice([0, 1, 1, 2, 3]), i - 1)
        graph[i] = frozenset(
            rng.sample(range(max(1, i - 50), i), min(k, len(range(max(1, i - 50), i))))
        )
    return graph


async def floor(graph: dict[int, frozenset[int]]) -> None:
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    fn = noop.fn
    assert fn is not None
    async with asyncio.TaskGroup() as group:

        async def run(node: int) -> None:
            await fn()
            sorter.done(node)
            dispatch()

        def dispatch() -> None:
            for node in sorter.get_ready():
                group.create_task(run(node))

        dispatch()


async def ours(tasks: list[PlanTask], sink: Callable[[Event], None] | None = None) -> None:
    outcome = await execute(tasks, [noop], on_event=sink)
    assert len(outcome.results) == len(tasks)


async def timed(coro: Coroutine[Any, Any, None]) -> float:
    t0 = time.perf_counter()
    await coro
    return time.perf_counter() - t0


def best_of(repeat: int, make: Callable[[], Coroutine[Any, Any, None]]) -> float:
    """The fastest of `repeat` runs, each timed inside a fresh event loop."""
    times = []
    for _ in range(repeat):
        gc.collect()
        times.append(asyncio.run(timed(make())))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    # warm up imports, pydantic validators and the loop machinery
    best_of(1, lambda: ours([PlanTask(1, "noop")]))

    print(
        f"{'shape':<7}{'tasks':>7}{'floor us/task':>15}{'toolweave':>11}{'ratio':>7}"
        f"{'+events':>9}{'ratio':>7}"
    )
    ratios = []
    for name in ("wide", "chain", "random"):
        for n in sizes:
            graph = shape(name, n)
            tasks = [PlanTask(i, "noop", deps=deps) for i, deps in graph.items()]
            base = best_of(args.repeat, lambda graph=graph: floor(graph)) / n * 1e6  # type: ignore[misc]
            mine = best_of(args.repeat, lambda tasks=tasks: ours(tasks)) / n * 1e6  # type: ignore[misc]
            seen: list[Event] = []
            traced = (
                best_of(args.repeat, lambda tasks=tasks, sink=seen.append: ours(tasks, sink))
                / n
                * 1e6
            )  # type: ignore[misc]
            ratios.append(mine / base)
            print(
                f"{name:<7}{n:>7}{base:>15.2f}{mine:>11.2f}{mine / base:>7.2f}"
                f"{traced:>9.2f}{traced / base:>7.2f}"
            )
    print(f"\nworst ratio (no event sink): {max(ratios):.2f}  (target <= 2.0)")


if __name__ == "__main__":
    main()
