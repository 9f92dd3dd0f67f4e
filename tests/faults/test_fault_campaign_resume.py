"""The resume-tampering campaign's fast subset (the whole one: python benchmarks/faults.py)."""

from __future__ import annotations

from types import ModuleType

import pytest


@pytest.mark.slow  # a campaign: 200 tampered states
@pytest.mark.timeout(180)
async def test_edited_and_replayed_states_run_only_what_was_approved_once(
    faults_resume: ModuleType,
) -> None:
    stats = await faults_resume.campaign(200, seed=1, replays=10)
    assert stats.violations == []
    assert stats.inputs == 200
    # the campaign reached each kind of end: refusals, and edits a resume survives
    assert stats.outcomes["refused (state)"] > 0
    assert stats.outcomes["refused (usage)"] > 0
    assert stats.outcomes["finished"] > 0
    assert stats.unsigned_refused == 200  # read without a key: never taken by default
    assert stats.signed_refused + stats.signed_unchanged == 200
    assert stats.replay_runs == 10
