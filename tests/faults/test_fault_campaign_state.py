"""The state campaign's fast subset (the whole one: python benchmarks/faults_state.py)."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest


@pytest.mark.slow  # writer processes
@pytest.mark.timeout(180)
def test_concurrent_writers_keep_every_turn_and_each_id_once(faults_state: ModuleType) -> None:
    stats = faults_state.Stats()
    faults_state.concurrent_writers(stats, threads=2, processes=2, turns=3, seed=7)
    assert stats.violations == []
    # the campaign exercised what it claims to
    assert stats.turns == 12
    assert stats.inputs == 12
    assert stats.prompts == 12  # every turn's planner prompt was read and checked
    assert stats.refs > 0  # later turns named earlier turns' values
    assert [o.ok for o in stats.outcomes] == [True]


@pytest.mark.slow  # a campaign: every secret shape through every sink
@pytest.mark.timeout(120)
def test_no_secret_reaches_any_sink(faults_secrets: ModuleType, faults_state: ModuleType) -> None:
    stats = faults_state.Stats()
    asyncio.run(faults_state.secrets_per_sink(stats))
    faults_state.without_a_sink(stats)
    assert stats.violations == []
    assert stats.sinks == ["run log", "session store", "telemetry spans", "to_json(redact=True)"]
    assert stats.leaks == dict.fromkeys(stats.sinks, 0)
    assert stats.inputs == len(faults_secrets.CORPUS) * len(faults_secrets.PLACES)
    names = [o.name for o in stats.outcomes]
    assert len(names) == len(faults_secrets.CORPUS) + 1
    assert "a run without a sink" in names
    assert 0 < stats.redact_us < 50_000
    report = "\n".join(faults_state.report(stats))
    assert "## Concurrent session writers" in report
    assert "## Secrets per sink" in report
    assert "defects left: 0" in report
