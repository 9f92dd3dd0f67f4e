"""Real third-party MCP servers, installed from the registries, used through the public API.

- ``mcp-server-time`` (PyPI): ``pip install mcp-server-time==2026.10.19``
- ``@modelcontextprotocol/server-memory`` (npm), installed into the ignored .venv:
  ``npm install --prefix .venv/npm @modelcontextprotocol/server-memory@2026.8.31``

Each test skips, saying how to install, where its server is missing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from toolweave import Agent, TaskState, UserError
from toolweave.models.testing import ScriptedModel
from toolweave.sources import MCPSource

pytestmark = pytest.mark.slow  # real third-party servers, each a process

ROOT = Path(__file__).resolve().parents[2]
MEMORY_SERVER = ROOT / ".venv" / "npm" / "node_modules" / ".bin" / "mcp-server-memory"
FINISH = "Thought: done.\nAction: Finish({})"

needs_time_server = pytest.mark.skipif(
    importlib.util.find_spec("mcp_server_time") is None,
    reason="mcp-server-time is not installed: pip install mcp-server-time==2026.10.19",
)
needs_memory_server = pytest.mark.skipif(
    not MEMORY_SERVER.exists() or shutil.which("node") is None,
    reason=f"@modelcontextprotocol/server-memory is not installed at {MEMORY_SERVER} (with "
    "node 20+): npm install --prefix .venv/npm @modelcontextprotocol/server-memory@2026.8.31",
)
TIME_SERVER = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "Europe/Paris"]


@needs_time_server
async def test_the_reference_time_server_answers_through_an_agent() -> None:
    plan = """1. get_current_time(timezone="Asia/Tokyo")
2. convert_time(source_timezone="Europe/Paris", time="12:00", target_timezone="Asia/Tokyo")
join()
<END_OF_PLAN>"""
    source = MCPSource.stdio(TIME_SERVER)
    model = ScriptedModel([plan, FINISH.format("It is evening in Tokyo.")])
    async with Agent(model, [source]) as agent:
        assert {"get_current_time", "convert_time"} <= set(agent.tools.names)
        assert agent.tools["get_current_time"].read_only  # from the server's annotations
        result = await agent.run("What time is it in Tokyo, and what is noon in Paris there?")
    assert result.answer == "It is evening in Tokyo."
    now, converted = result.tasks[1].value, result.tasks[2].value
    assert isinstance(now, dict)
    assert now["timezone"] == "Asia/Tokyo"
    moment = datetime.fromisoformat(now["datetime"])
    assert moment.utcoffset() == timedelta(hours=9)  # Tokyo keeps no summer time
    assert isinstance(converted, dict)
    assert converted["target"]["timezone"] == "Asia/Tokyo"
    assert converted["target"]["datetime"].endswith("+09:00")
    assert converted["source"]["datetime"][11:16] == "12:00"


@needs_time_server
async def test_a_stdio_server_is_named_after_its_command_not_its_last_argument() -> None:
    assert MCPSource.stdio(TIME_SERVER).name == "mcp_server_time"
    assert MCPSource.stdio("mcp-server-time --local-timezone Europe/Paris").name == (
        "mcp_server_time"
    )
    assert MCPSource.stdio(["node", "/srv/weather/index.js", "--city", "Paris"]).name == "index"
    missing = [sys.executable, "-m", "no_such_server_xyz", "--local-timezone", "Europe/Paris"]
    with pytest.raises(UserError) as caught:
        await MCPSource.stdio(missing, connect_timeout=10).open()
    message = str(caught.value)
    assert "-m no_such_server_xyz: cannot connect" in message
    assert "Paris:" not in message
    # once connected, the server's own name (mcp-time) is the source's
    async with MCPSource.stdio(TIME_SERVER) as source:
        assert source.name == "mcp_time"


@needs_memory_server
async def test_the_reference_memory_server_keeps_what_an_agent_tells_it(tmp_path: Path) -> None:
    store = tmp_path / "memory.jsonl"
    source = MCPSource.stdio([str(MEMORY_SERVER)], env={"MEMORY_FILE_PATH": str(store)})
    entity = {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}
    create = f"1. create_entities(entities=[{json.dumps(entity)}])\njoin()\n<END_OF_PLAN>"
    read = '1. read_graph()\n2. search_nodes(query="program")\njoin()\n<END_OF_PLAN>'
    model = ScriptedModel([create, FINISH.format("noted"), read, FINISH.format("Ada")])
    async with Agent(model, [source]) as agent:
        assert source.name == "memory_server"
        assert not agent.tools["create_entities"].destructive  # destructiveHint: false
        created = await agent.run("Remember that Ada wrote the first program.")
        assert created.tasks[1].state is TaskState.SUCCEEDED, created.tasks[1].error
        recalled = await agent.run("Who wrote the first program?")
    graph, found = recalled.tasks[1].value, recalled.tasks[2].value
    assert isinstance(graph, dict)
    assert graph["entities"] == [entity]
    assert isinstance(found, dict)
    assert [e["name"] for e in found["entities"]] == ["Ada"]
    assert "wrote the first program" in store.read_text()  # where the server keeps it
