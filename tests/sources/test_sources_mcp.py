"""MCP servers as tool sources, against a real SDK server over stdio and HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import deque
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from support import mcp_server
from support.mcp_fixtures import SERVER, mcp_http_url, serve_http, stdio_source
from support.mcp_server import DELAY
from support.openai_server import OpenAIServer, Reply
from support.openapi_service import TOKEN as PETS_TOKEN
from support.openapi_service import serve as serve_pets

from toolweave import Agent, TaskState, Tool, ToolError, ToolRegistry, UserError, tool
from toolweave.cli._render import RunView
from toolweave.events import Event, TaskProgress, report_progress
from toolweave.executor import LocalExecutor
from toolweave.models.testing import ScriptedModel
from toolweave.sources import MCPSource, registry_from_specs

FINISH = "Thought: done.\nAction: Finish({})"


@pytest.fixture(params=[pytest.param("stdio", marks=pytest.mark.slow), "http"])  # a process
async def source(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MCPSource]:
    if request.param == "stdio":
        with (tmp_path / "server.log").open("w") as log:
            yield stdio_source(log)
    else:
        async with mcp_http_url() as url:
            yield MCPSource.http(url)


async def test_tools_are_listed_with_flags_from_annotations(source: MCPSource) -> None:
    async with ToolRegistry([source]) as tools:
        assert source.name == "citydata"  # the server's own name
        assert {"weather", "temperature", "delete_note", "count", "fail"} <= set(tools.names)
        weather, delete, count = tools["weather"], tools["delete_note"], tools["count"]
        assert (weather.read_only, weather.destructive, weather.retryable) == (True, False, True)
        assert (delete.read_only, delete.destructive, delete.retryable) == (False, True, False)
        assert (count.destructive, count.idempotent) == (False, True)
        assert tools["crash"].destructive  # no hints: the safe choice
        assert weather.description.startswith("Today's weather in a city")
        assert tools["temperature"].signature() == "temperature(city: str) -> float"
        assert weather.signature() == (  # its output schema's fields, which $N.field takes
            "weather(city: str) -> {city: str, celsius: float, population: int}"
        )
        assert weather.metadata["source"] == "citydata"
        # the server's input schema validates the arguments like any tool's
        with pytest.raises(ToolError) as bad:
            await LocalExecutor().run(weather, {"city": 3})
        assert bad.value.kind == "invalid_arguments"
    assert len(tools) == 0  # closed: the server's tools are gone


async def test_agent_runs_a_parallel_plan_over_the_server(source: MCPSource) -> None:
    plan = """Thought: two lookups side by side, then the difference.
1. temperature(city="Rome")
2. temperature(city="Paris")
3. weather(city="Oslo")
4. difference(a=$1, b=$2)
5. difference(a=$3.celsius, b=$2)
join()
<END_OF_PLAN>"""
    model = ScriptedModel([plan, FINISH.format("Rome is 5.5 degrees warmer than Paris.")])
    async with Agent(model, tools=[source]) as agent:
        result = await agent.run("How much warmer is Rome than Paris?")
    assert result.answer == "Rome is 5.5 degrees warmer than Paris."
    tasks = result.tasks
    assert {tid: r.value for tid, r in tasks.items()} == {
        1: 27.0,
        2: 21.5,
        3: {"city": "Oslo", "celsius": 9.0, "population": 700_000},  # structured output
        4: 5.5,
        5: -12.5,  # one field of the structured output
    }
    # the three lookups overlapped: each started before any of them finished
    starts = [tasks[i].started_at for i in (1, 2, 3)]
    ends = [tasks[i].finished_at for i in (1, 2, 3)]
    assert None not in starts
    assert None not in ends
    assert max(starts) < min(ends)  # type: ignore[type-var]
    assert tasks[4].started_at >= max(tasks[i].finished_at for i in (1, 2))  # type: ignore[operator]
    lookups = max(ends) - min(starts)  # type: ignore[type-var, operator]
    assert lookups < 2 * DELAY  # three calls of DELAY each, run together
    assert "$4 = difference(a=$1, b=$2) -> 5.5" in model.calls[1][-1]["content"]


def _one_call(call: str, answer: str = "ok") -> ScriptedModel:
    return ScriptedModel([f"1. {call}\njoin()\n<END_OF_PLAN>", FINISH.format(answer)])


async def test_destructive_tool_asks_for_approval(source: MCPSource) -> None:
    asked: list[tuple[str, Mapping[str, object]]] = []

    def approve(tool: Tool, args: Mapping[str, object]) -> bool:
        asked.append((tool.name, args))
        return True

    async with ToolRegistry([source]) as tools:
        refused = await Agent(_one_call('delete_note(title="groceries")'), tools).run("delete")
        assert refused.tasks[1].state is TaskState.FAILED
        assert refused.tasks[1].error is not None
        assert refused.tasks[1].error.kind == "refused"
        agent = Agent(_one_call('delete_note(title="groceries")'), tools, approve=approve)
        approved = await agent.run("delete the groceries note")
    assert asked == [("delete_note", {"title": "groceries"})]
    assert approved.tasks[1].value == "deleted groceries"


async def test_progress_notifications_become_task_events(source: MCPSource) -> None:
    seen: list[Event] = []
    agent = Agent(_one_call("count(n=3)"), tools=[source])
    async with agent, agent.stream("count to three") as events:
        async for event in events:
            seen.append(event)
    progress = [e for e in seen if isinstance(e, TaskProgress)]
    assert [(e.task.id, e.progress, e.total, e.message) for e in progress] == [
        (1, 1.0, 3.0, "counted 1"),
        (1, 2.0, 3.0, "counted 2"),
        (1, 3.0, 3.0, "counted 3"),
    ]
    assert events.result.tasks[1].value == "counted to 3"
    # the REPL shows the latest report on the task's row while it runs
    view = RunView()
    for event in seen[: seen.index(progress[-1]) + 1]:
        view.handle(event)
    assert (view.rows[1].state, view.rows[1].detail) == ("running", "3/3 counted 3")


async def test_python_tools_report_progress_too() -> None:
    @tool(read_only=True)
    def crunch(n: int) -> int:
        """Work through n items in a worker thread."""
        for i in range(n):
            report_progress(i + 1, n)
        return n

    seen: list[Event] = []
    agent = Agent(_one_call("crunch(n=2)"), tools=[crunch])
    async with agent.stream("crunch") as events:
        async for event in events:
            seen.append(event)
    assert [(e.progress, e.total) for e in seen if isinstance(e, TaskProgress)] == [
        (1, 2),
        (2, 2),
    ]
    report_progress(1.0)  # outside a run: nowhere to go, no error


async def test_a_server_error_is_a_tool_error_the_joiner_sees(source: MCPSource) -> None:
    model = _one_call('fail(reason="no data")', "It failed.")
    async with Agent(model, tools=[source]) as agent:
        result = await agent.run("try it")
    task = result.tasks[1]
    assert task.state is TaskState.FAILED
    assert isinstance(task.error, ToolError)
    assert "failed on purpose: no data" in task.error.message
    assert "failed on purpose: no data" in model.calls[1][-1]["content"]  # the joiner's prompt


async def test_a_list_change_refreshes_the_registry(source: MCPSource) -> None:
    async with ToolRegistry([source]) as tools:
        changed = asyncio.Event()
        tools.on_change(lambda: "extra" in tools and changed.set())  # type: ignore[func-returns-value]
        assert "extra" not in tools
        assert await tools["enable_extra"].fn() == "extra enabled"
        async with asyncio.timeout(5):
            await changed.wait()
        assert await tools["extra"].fn() == "extra!"


@pytest.mark.slow  # stdio server processes
async def test_the_connection_is_reopened_once_after_a_drop(tmp_path: Path) -> None:
    with (tmp_path / "server.log").open("w") as log:
        async with ToolRegistry([stdio_source(log)]) as tools:
            with pytest.raises(ToolError, match="dropped during the call; not repeated"):
                await tools["crash"].fn()  # the server process exits
            assert await tools["temperature"].fn(city="Oslo") == 9.0  # a new process


async def test_runs_open_the_sources_they_need() -> None:
    plan = '1. temperature(city="Rome")\njoin()\n<END_OF_PLAN>'
    async with mcp_http_url() as url:
        tools = ToolRegistry([MCPSource.http(url)])
        agents = [
            Agent(ScriptedModel([plan, FINISH.format(f"answer {i}")]), tools) for i in range(2)
        ]
        results = await asyncio.gather(*(agent.run("Rome?") for agent in agents))
        assert len(tools) == 0  # closed again after the last run
    assert [r.answer for r in results] == ["answer 0", "answer 1"]
    assert [r.tasks[1].value for r in results] == [27.0, 27.0]


@pytest.mark.slow  # a stdio server process
def test_run_sync_connects_for_the_call(tmp_path: Path) -> None:
    plan = '1. temperature(city="Oslo")\njoin()\n<END_OF_PLAN>'
    with (tmp_path / "server.log").open("w") as log:
        agent = Agent(ScriptedModel([plan, FINISH.format("9 degrees")]), [stdio_source(log)])
        result = agent.run_sync("How cold is Oslo?")
    assert result.answer == "9 degrees"
    assert result.tasks[1].value == 9.0
    assert len(agent.tools) == 0


async def test_an_http_server_that_restarts_is_reconnected() -> None:
    async with serve_http(mcp_server.build().streamable_http_app(), force=True) as base:
        port = int(base.rpartition(":")[2])
        source = MCPSource.http(f"{base}/mcp")
        await source.open()
    # the server went away under the open source, and comes back on the same port
    async with serve_http(mcp_server.build().streamable_http_app(), port=port):
        try:
            temperature = {t.name: t for t in source.tools}["temperature"]
            assert await temperature.fn(city="Oslo") == 9.0
        finally:
            await source.aclose()


async def test_clashing_names_are_prefixed_by_source() -> None:
    @tool(read_only=True)
    def difference(a: float, b: float) -> float:
        """The local difference."""
        return a - b

    async with mcp_http_url() as one, mcp_http_url() as two:
        left, right = MCPSource.http(one, name="left"), MCPSource.http(two, name="right")
        async with ToolRegistry([difference, left, right]) as tools:
            assert {"difference", "left_difference", "right_difference"} <= set(tools.names)
            assert {"left_weather", "right_weather"} <= set(tools.names)
            assert "count" not in tools  # both servers have it: each under its prefix
            assert tools["difference"] is difference
            assert await tools["right_temperature"].fn(city="Rome") == 27.0
            assert await tools["left_difference"].fn(a=3, b=1) == 2.0
            with pytest.raises(ToolError) as failed:  # errors name the tool as renamed
                await tools["right_fail"].fn(reason="x")
            assert failed.value.tool == "right_fail"


async def test_a_server_that_does_not_start_is_a_clear_error(tmp_path: Path) -> None:
    source = MCPSource.stdio(["python3", "-c", "import sys; sys.exit(1)"], name="broken")
    with pytest.raises(UserError, match="MCP server broken: cannot connect"):
        await source.open()
    assert source.tools == []


PLAN_OVER_THREE_SOURCES = """1. temperature(city="Rome")
2. petAge(petId=2)
3. lookup(key="$1-$2")
join()
<END_OF_PLAN>"""


@pytest.mark.slow  # a stdio server process
async def test_tools_strings_mix_sources_in_python() -> None:
    with serve_pets() as (url, _):
        registry = registry_from_specs(
            f"mcp:stdio:{sys.executable} {SERVER}",
            f"openapi:{url}/openapi.json",
            "support.repl_tools:TOOLS",
        )
        assert registry.names == ["lookup", "slow", "delete_file"]  # sources join on opening
        assert isinstance(registry.sources[0], MCPSource)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TOOLWEAVE_OPENAPI_TOKEN", PETS_TOKEN)
            model = ScriptedModel([PLAN_OVER_THREE_SOURCES, FINISH.format("done")])
            async with Agent(model, tools=registry) as agent:
                assert {"temperature", "petAge", "lookup"} <= set(agent.tools.names)
                result = await agent.run("go")
    assert [t.value for t in result.tasks.values()] == [27.0, 7, "value-of-27.0-7"]
    assert registry.names == ["lookup", "slow", "delete_file"]  # closed with the agent


@pytest.mark.slow  # the CLI and a stdio server, as processes
async def test_cli_tools_strings_mix_sources() -> None:
    replies = deque([Reply(PLAN_OVER_THREE_SOURCES), Reply("Action: Finish(done)")])
    with serve_pets() as (url, store):
        async with OpenAIServer(replies) as llm:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "toolweave",
                "run",
                "go",
                "--model",
                f"openai:scripted@{llm.base_url}",
                "--tools",
                f'mcp:stdio:"{sys.executable}" "{SERVER}"',
                "--tools",
                f"openapi:{url}/openapi.json",
                "--tools",
                "support.repl_tools:TOOLS",
                "--json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={
                    **os.environ,
                    "PYTHONPATH": str(SERVER.parents[1]),
                    "TOOLWEAVE_OPENAPI_TOKEN": PETS_TOKEN,
                },
            )
            out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    data = json.loads(out)
    assert data["answer"] == "done"
    assert [t["value"] for t in data["tasks"]] == [27.0, 7, "value-of-27.0-7"]
    assert store.authorizations == [f"Bearer {PETS_TOKEN}"]
