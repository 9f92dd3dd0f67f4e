"""The hostile-MCP fault campaign, whole (python benchmarks/faults_mcp.py): about 40 s."""

from __future__ import annotations

import asyncio
import importlib.util
from types import ModuleType

import pytest

pytest.importorskip("mcp")


pytestmark = pytest.mark.slow  # the whole campaign: about 25 s of server processes


@pytest.mark.timeout(240)
def test_hostile_mcp_servers_never_escape_their_bounds(faults_mcp: ModuleType) -> None:
    stats = asyncio.run(faults_mcp.campaign())
    assert stats.violations == []
    has_time_server = importlib.util.find_spec("mcp_server_time") is not None
    assert stats.inputs == len(faults_mcp.probes()) - (not has_time_server)
    assert all(outcome.ok for outcome in stats.outcomes)
    # the campaign exercised what it claims to
    names = {outcome.name for outcome in stats.outcomes}
    for transport in ("stdio", "http"):
        assert {f"{transport} hang in tools/call", f"{transport} huge answer (40 MiB)"} <= names
        assert f"{transport} hostile tool list" in names
    assert stats.timeouts >= 5  # hangs, drips and stray ids over both transports
    assert stats.capped >= 4  # 40 MiB answers, id first and last, and a line of no JSON
    assert stats.refused >= 3  # initialize hangs, a tool list no SDK accepts
    assert stats.answered >= 10
    assert all(o.seconds < faults_mcp.BOUND for o in stats.outcomes)
    lines = faults_mcp.report(stats)
    assert lines[0] == "## Hostile MCP servers"
    assert any(line.startswith(f"- inputs tried: {stats.inputs}") for line in lines)
    assert "- defects left: 0" in lines
    assert f"- defects found (on the code before issue 29): {len(faults_mcp.DEFECTS_FOUND)}" in (
        lines
    )
