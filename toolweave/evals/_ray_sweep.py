"""Evaluation sweeps on Ray: the cases spread over workers, the rows back into one file.

Each worker is a Ray actor that makes its model once (a model string resolved there, or
a factory called there, so a local model's weights load once per worker), prepares each
suite once (the same seeded sample and simulated tools as a local run), and runs up to
`concurrency` cases at a time. The driver hands out cases as workers free up, appends
every finished row to the one ``results.jsonl`` (so an interrupted sweep resumes as a
local run does), and reports progress through one callback. Rows are the ones
`run_case` makes locally, so `report()` reads them the same way.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ray
import ray.exceptions

from toolweave.evals.runner import (
    PreparedSuite,
    _Results,
    prepare_suite,
    run_case,
    run_settings,
)
from toolweave.evals.simulate import Simulation
from toolweave.evals.suites import seeded_sample, suites
from toolweave.executor._ray import RayOptions, start_ray
from toolweave.models import LocalModel, Model, resolve_model

__all__ = ["ModelSource", "run_eval_ray"]

ModelSource = str | Callable[[], Model] | None
"""How a worker gets its model: a model string, a factory called in the worker, or
`None` for the oracles, which need none."""


async def run_eval_ray(
    suite_names: Sequence[str],
    strategies: Sequence[str],
    model: ModelSource,
    out: Path,
    *,
    workers: int = 2,
    address: str | None = None,
    worker_options: RayOptions | None = None,
    limit: int | None = None,
    seed: int = 0,
    concurrency: int = 1,
    simulation: Simulation | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Run `strategies` on suites' cases over Ray workers; rows go to results.jsonl.

    Args:
        suite_names: The suites, in order.
        strategies: The strategies to run on every case.
        model: The workers' model (see `ModelSource`).
        out: The results directory (shared with local runs: resume works across both).
        workers: How many workers (Ray actors), each with its own model.
        address: The Ray cluster; `None` starts a local instance for the sweep and
            shuts it down after. An instance already started is used as it is.
        worker_options: Each worker's resources (default: none reserved, so that
            more workers than CPUs can wait on endpoints side by side; set
            ``num_cpus`` or ``num_gpus`` for a model run in the worker). Workers are
            spread over the cluster's nodes.
        limit: A seeded sample of this many cases per suite.
        seed: The sample's and the simulated tools' seed.
        concurrency: Cases run at once by each worker.
        simulation: How simulated tools behave.
        progress: Called with (finished, total) after every row.

    Returns:
        The path of results.jsonl.

    Raises:
        UserError: `out` holds results made with another model, seed or simulation.
    """
    results = _Results(out / "results.jsonl")
    done = results.done()
    work: deque[tuple[str, str, str]] = deque(
        (name, strategy, case.id)
        for name in suite_names
        for strategy in strategies
        for case in seeded_sample(suites()[name].cases(), limit, seed)
        if (name, strategy, case.id) not in done
    )
    total = len(work)
    owns_ray = start_ray(address)
    options = (worker_options or RayOptions()).ray_options()
    options.setdefault("scheduling_strategy", "SPREAD")
    pool = [
        _Worker.options(**options, max_concurrency=concurrency).remote(  # type: ignore[attr-defined]
            model, limit, seed, simulation
        )
        for _ in range(max(1, min(workers, total)))
    ]
    finished = 0

    async def drain(worker: Any) -> None:
        nonlocal finished
        while work:
            row = await _get(worker.run.remote(*work.popleft()))
            results.append(row)
            finished += 1
            if progress is not None:
                progress(finished, total)

    try:
        # the model's name, as a worker made it: a resumed sweep must use the same
        model_name = await _get(pool[0].model_name.remote()) if model is not None else None
        results.claim(run_settings(model_name, seed, simulation))
        async with asyncio.TaskGroup() as group:
            for worker in pool:
                for _ in range(concurrency):
                    group.create_task(drain(worker))
    finally:
        for worker in pool:
            ray.kill(worker)
        if owns_ray:
            ray.shutdown()
    return results.path


async def _get(ref: Any) -> Any:
    """A worker's result; an exception raised there is raised here, as it was."""
    try:
        return await ref
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, Exception) and not isinstance(exc.cause, ray.exceptions.RayError):
            raise exc.cause from exc
        raise


@ray.remote
class _Worker:
    """One sweep worker: its own model, loaded once; suites prepared on first use."""

    def __init__(
        self, model: ModelSource, limit: int | None, seed: int, simulation: Simulation | None
    ) -> None:
        self._model: Model | None = (
            resolve_model(model) if isinstance(model, str) else model() if model else None
        )
        self._limit, self._seed, self._simulation = limit, seed, simulation
        self._suites: dict[str, PreparedSuite] = {}
        self._loaded = asyncio.Lock()

    def model_name(self) -> str | None:
        return self._model.name if self._model is not None else None

    async def run(self, suite_name: str, strategy: str, case_id: str) -> dict[str, Any]:
        async with self._loaded:  # the first call loads; the others wait for it
            if isinstance(self._model, LocalModel):
                await self._model.load()
            suite = self._suites.get(suite_name)
            if suite is None:
                suite = self._suites[suite_name] = prepare_suite(
                    suite_name, limit=self._limit, seed=self._seed, simulation=self._simulation
                )
        return await run_case(suite, strategy, suite.case(case_id), self._model)
