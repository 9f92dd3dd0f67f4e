"""The SVG timeline of a run: `toolweave log show ID --svg FILE` (and the REPL's /plan --svg)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from toolweave import Agent, RunResult, ToolRegistry, tool
from toolweave.cli._runlog import RunLog
from toolweave.cli._timeline import timeline_svg
from toolweave.models.testing import ScriptedModel

SVG = "{http://www.w3.org/2000/svg}"


@tool(read_only=True)
async def population(country: str) -> int:
    """Population of a country, in millions."""
    await asyncio.sleep(0.02)
    return {"France": 68, "Italy": 59}[country]


@tool(read_only=True)
def calculator(expression: str) -> float:
    """Add numbers written as 'a + b'."""
    return float(sum(float(x) for x in expression.split("+")))


TOOLS = ToolRegistry([population, calculator])

PLAN = """1. population(country="France")
2. population(country="Italy")
3. population(country="Atlantis")
4. calculator(expression="$1 + $2")
5. calculator(expression="$3 + 1")
join()
<END_OF_PLAN>"""


async def _run() -> RunResult:
    agent = Agent(ScriptedModel([PLAN, "Action: Finish(127 million)"]), TOOLS)
    return await agent.run("France, Italy and Atlantis?")


async def test_the_timeline_has_a_bar_per_task_and_a_link_per_dependency() -> None:
    result = await _run()
    svg = ElementTree.fromstring(timeline_svg(result.to_dict()))
    assert svg.tag == f"{SVG}svg"
    bars = {
        rect.findtext(f"{SVG}title", "").split(":")[0]: rect.get("class")
        for rect in svg.iter(f"{SVG}rect")
        if (rect.get("class") or "").startswith("task")
    }
    assert bars == {
        'population(country="France")': "task succeeded",
        'population(country="Italy")': "task succeeded",
        'population(country="Atlantis")': "task failed",
        'calculator(expression="$1 + $2")': "task succeeded",
        'calculator(expression="$3 + 1")': "task skipped",
    }
    calls = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "call"]
    assert len(calls) == 2  # the planner's stream and the joiner
    links = [p for p in svg.iter(f"{SVG}path") if p.get("class") == "dep"]
    assert len(links) == 3  # 1 -> 4, 2 -> 4, 3 -> 5


@pytest.mark.slow  # the CLI, as a process
async def test_log_show_svg(tmp_path: Path) -> None:
    result = await _run()
    RunLog(tmp_path / "runs.sqlite").add(result, "scripted")
    target = tmp_path / "run.svg"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toolweave",
        "log",
        "show",
        result.run_id[:8],
        "--svg",
        str(target),
        env={**os.environ, "TOOLWEAVE_STATE": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    svg = ElementTree.parse(target).getroot()
    tasks = [r for r in svg.iter(f"{SVG}rect") if (r.get("class") or "").startswith("task")]
    assert len(tasks) == 5
