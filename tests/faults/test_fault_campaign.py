"""The fault campaign's fast subset (the whole one: python benchmarks/faults.py)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from types import ModuleType

import pytest
from support.benchmarks import load_benchmark

faults_endpoint = load_benchmark("faults_endpoint")


@pytest.mark.slow  # 150 random runs, process workers among them
@pytest.mark.timeout(240)
def test_random_dags_keep_every_invariant(faults_dag: ModuleType) -> None:
    stats = asyncio.run(faults_dag.campaign(150, max_tasks=120, concurrency=8))
    assert stats.violations == []
    assert stats.runs == 150
    assert stats.lost_results == 0
    assert stats.hangs == 0
    assert stats.leaked_tasks == 0
    # the campaign exercised what it claims to
    assert stats.failed > 0
    assert stats.skipped > 0
    assert stats.replans > 0
    assert stats.cancelled > 0
    assert _no_children_within(5.0)


def _no_children_within(seconds: float) -> bool:
    """Killed workers are reaped, not waited for: give the last ones a moment."""
    deadline = time.monotonic() + seconds
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    return multiprocessing.active_children() == []


@pytest.mark.slow  # a campaign: 30 random runs
@pytest.mark.timeout(240)
def test_random_dags_alone_leave_no_asyncio_task(faults_dag: ModuleType) -> None:
    stats = asyncio.run(faults_dag.campaign(30, max_tasks=60, concurrency=1, seed=1))
    assert stats.violations == []
    assert stats.leaked_tasks == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("name", "replies", "check"),
    [
        # a stall is waited out past the model's timeout: seconds each
        pytest.param(
            *scenario, id=scenario[0], marks=pytest.mark.slow if "stall" in scenario[0] else ()
        )
        for scenario in faults_endpoint.scenarios()
    ],
)
def test_endpoint_fault_is_survived(name: str, replies: list, check: object) -> None:
    outcome = asyncio.run(faults_endpoint.run_scenario(name, replies, check))  # type: ignore[arg-type]
    assert outcome.ok, outcome.detail


@pytest.mark.slow  # a campaign: 40 hostile texts through whole runs
@pytest.mark.timeout(240)
def test_hostile_text_never_escapes(faults_text: ModuleType) -> None:
    stats = faults_text.campaign(40)
    assert stats.violations == []
    assert stats.inputs == 40
    assert stats.rejected_lines > 0
    assert stats.runs_failed_cleanly > 0
