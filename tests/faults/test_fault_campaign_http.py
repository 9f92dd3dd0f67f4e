"""The hostile-HTTP fault campaign's fast subset (the whole: python benchmarks/faults_http.py)."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest


@pytest.mark.slow  # the campaign's HTTP subset: about 5 s
@pytest.mark.timeout(120)
def test_hostile_http_services_never_escape_their_bounds(faults_http: ModuleType) -> None:
    stats = asyncio.run(faults_http.campaign(paths=80, headers=50, queries=20))
    assert stats.violations == []
    fixed = len(faults_http.probes(0, 0, 0))
    assert stats.generated == 150
    assert stats.inputs == fixed + 150 + 1  # and the spec fetched from a dripping URL
    # the campaign exercised what it claims to
    assert stats.timeouts >= 2  # the drip-feed and the stall
    assert stats.capped >= 3  # the huge, the endless and the gzip-bombed bodies
    assert stats.refused_unsent >= 8  # dot segments, line breaks in headers
    assert stats.answered >= 50  # most random values go through, encoded
    assert 0 < stats.peak < faults_http.MEMORY
    names = {outcome.name for outcome in stats.outcomes}
    assert {"drip-feed (a byte every 0.5 s)", "redirect to another origin"} <= names
    assert {"plan: getFile(name='..')", "spec URL drip-feeds"} <= names
    lines = faults_http.report(stats)
    assert lines[0] == "## Hostile HTTP services"
    assert (
        f"- inputs tried: {stats.inputs} (150 of them random path, header and query values)"
        in lines
    )
    assert "- defects left: 0" in lines
    assert any(line.startswith("- defects found") for line in lines)


def test_the_random_probes_are_hostile(faults_http: ModuleType) -> None:
    values = [p.args for p in faults_http.probes(200, 100, 0) if p.name.startswith("random")]
    paths = [str(a["name"]) for a in values if "name" in a]
    headers = [str(a["X_Note"]) for a in values if "X_Note" in a]
    assert sum(".." in v for v in paths) > 20
    assert sum("/" in v for v in paths) > 20
    assert sum(any(c in v for c in "\r\n\x00") for v in headers) > 20
    again = [p.args for p in faults_http.probes(200, 100, 0) if p.name.startswith("random")]
    assert again == values  # seeded: the same inputs every run
