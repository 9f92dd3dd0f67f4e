"""``toolweave mcp serve``: the agent as an MCP tool, driven by the SDK's client."""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

import pytest

pytest.importorskip("mcp")

import mcp_types
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from support.mcp_fixtures import serve_http
from support.openai_server import OpenAIServer, Reply
from support.repl_tools import TOOLS

from toolweave import Agent, ToolError
from toolweave.cli._mcp_serve import ask_client, build_server
from toolweave.models.testing import ScriptedModel
from toolweave.sources import MCPSource

PLAN = """Thought: two lookups, then one on both.
1. lookup(key="a")
2. lookup(key="b")
3. lookup(key="$1+$2")
join()
<END_OF_PLAN>"""
ANSWER = "Action: Finish(value-of-value-of-a+value-of-b)"
TESTS = Path(__file__).parents[1]


@pytest.mark.slow  # `toolweave mcp serve`, as a process
async def test_serve_over_stdio_answers_with_a_trace(tmp_path: Path) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress_: float, total: float | None, message: str | None) -> None:
        progress.append((progress_, total, message))

    async with OpenAIServer(deque([Reply(PLAN), Reply(ANSWER)])) as llm:
        command = StdioServerParameters(
            command=sys.executable,
            args=[
                *("-m", "toolweave", "mcp", "serve", "--tools", "support.repl_tools:TOOLS"),
                *("--model", f"openai:scripted@{llm.base_url}"),
            ],
            env={"PYTHONPATH": str(TESTS)},
        )
        with (tmp_path / "serve.log").open("w") as log:
            async with Client(stdio_client(command, errlog=log)) as client:
                listed = await client.list_tools()
                assert [t.name for t in listed.tools] == ["answer"]
                assert "lookup, slow, delete_file" in (listed.tools[0].description or "")
                result = await client.call_tool(
                    "answer", {"request": "look a and b up"}, progress_callback=on_progress
                )
    assert not result.is_error
    data = result.structured_content
    assert isinstance(data, dict)
    assert data["answer"] == "value-of-value-of-a+value-of-b"
    assert data["status"] == "finished"
    assert data["plans"] == 1
    trace = data["trace"]
    assert [(t["id"], t["call"], t["after"], t["state"]) for t in trace] == [
        (1, 'lookup(key="a")', [], "succeeded"),
        (2, 'lookup(key="b")', [], "succeeded"),
        (3, 'lookup(key="$1+$2")', [1, 2], "succeeded"),
    ]
    assert trace[2]["result"] == "value-of-value-of-a+value-of-b"
    assert all(t["seconds"] is not None for t in trace)
    # progress: each task planned, then done, counted against the planned total
    messages = [m for _, _, m in progress]
    assert 'planned 1. lookup(key="a")' in messages
    assert "plan 1 written: 3 tasks" in messages
    assert progress[-1][:2] == (3.0, 3.0)
    assert sum(1 for m in messages if m is not None and m.startswith("done ")) == 3


async def test_serve_over_http_to_a_toolweave_client() -> None:
    agent = Agent(ScriptedModel([PLAN, ANSWER]), TOOLS)
    app = build_server(agent).streamable_http_app()
    async with serve_http(app) as base, MCPSource.http(f"{base}/mcp") as toolweave:
        assert [t.name for t in toolweave.tools] == ["answer"]
        answer = toolweave.tools[0]
        assert answer.destructive  # among the agent's tools, delete_file is
        value = await answer.fn(request="look a and b up")
    assert isinstance(value, dict)
    assert value["answer"] == "value-of-value-of-a+value-of-b"
    assert [t["state"] for t in value["trace"]] == ["succeeded"] * 3


async def test_a_failed_run_is_an_error_result_with_its_answer() -> None:
    agent = Agent(ScriptedModel(["1. lookup(key='a')\njoin()\n<END_OF_PLAN>", "gibberish"]), TOOLS)
    async with Client(build_server(agent)) as client:  # in-process
        result = await client.call_tool("answer", {"request": "q"})
    assert result.is_error
    text = result.content[0]
    assert isinstance(text, mcp_types.TextContent)
    assert text.text.startswith("The run failed: ")
    data = result.structured_content
    assert isinstance(data, dict)
    assert data["answer"] is None
    assert data["status"] == "failed"
    assert data["error"]
    assert data["error"] in text.text
    assert data["trace"][0]["result"] == "value-of-a"


async def test_a_run_over_its_budget_is_an_error_result() -> None:
    plan = "1. lookup(key='a')\n2. lookup(key='b')\n3. lookup(key='c')\njoin()\n<END_OF_PLAN>"
    agent = Agent(ScriptedModel([plan, "Action: Finish(x)"]), TOOLS, max_tasks=2)
    async with Client(build_server(agent)) as client:
        result = await client.call_tool("answer", {"request": "q"})
    assert result.is_error
    data = result.structured_content
    assert isinstance(data, dict)
    assert data["status"] == "budget_exceeded"
    text = result.content[0]
    assert isinstance(text, mcp_types.TextContent)
    assert text.text.startswith("The run went over its budget: ")


async def test_a_failed_run_is_a_tool_error_for_a_toolweave_client() -> None:
    agent = Agent(ScriptedModel(["1. lookup(key='a')\njoin()\n<END_OF_PLAN>", "gibberish"]), TOOLS)
    app = build_server(agent).streamable_http_app()
    async with serve_http(app) as base, MCPSource.http(f"{base}/mcp") as toolweave:
        with pytest.raises(ToolError, match="answer: The run failed: "):
            await toolweave.tools[0].fn(request="q")


@pytest.mark.parametrize(
    ("action", "approve", "state"),
    [("accept", True, "succeeded"), ("accept", False, "failed"), ("decline", None, "failed")],
)
async def test_destructive_calls_ask_the_client(
    action: str, approve: bool | None, state: str
) -> None:
    asked: list[str] = []

    async def elicit(
        context: object, params: mcp_types.ElicitRequestParams
    ) -> mcp_types.ElicitResult:
        asked.append(params.message)
        content = None if approve is None else {"approve": approve}
        return mcp_types.ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    plan = '1. delete_file(path="notes.txt")\njoin()\n<END_OF_PLAN>'
    agent = Agent(ScriptedModel([plan, "Action: Finish(ok)"]), TOOLS, approve=ask_client)
    # elicitation needs a back-channel: connections of the handshake era (2025) have one
    server = build_server(agent)
    async with Client(server, elicitation_callback=elicit, mode="legacy") as client:
        result = await client.call_tool("answer", {"request": "delete my notes"})
    assert asked == ["Allow delete_file(path='notes.txt')? Delete a file."]
    data = result.structured_content
    assert isinstance(data, dict)
    assert data["trace"][0]["state"] == state
    if state == "succeeded":
        assert data["trace"][0]["result"] == "deleted notes.txt"
    else:
        assert "refused" in data["trace"][0]["result"]
