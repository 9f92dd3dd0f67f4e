"""``toolweave mcp serve``'s guards, with real HTTP requests against a served instance.

Off loopback, the command is started bound to 0.0.0.0 on a free port (``--port 0``):
the real off-loopback policy, reached here through 127.0.0.1. Destructive calls are
tested over stdio, where the client can be asked (elicitation).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("mcp")

import httpx2
import mcp_types
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from support.openai_server import OpenAIServer, Reply

from toolweave.sources import MCPSource

pytestmark = pytest.mark.slow  # each test starts `toolweave mcp serve` as a process

TESTS = Path(__file__).parents[1]
PLAN = '1. lookup(key="a")\njoin()\n<END_OF_PLAN>'
ANSWER = "Action: Finish(value-of-a)"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@dataclass
class Served:
    url: str
    port: int
    stderr: list[str]

    @property
    def token(self) -> str | None:
        for line in self.stderr:
            if found := re.search(r"bearer token: (\S+)", line):
                return found[1]
        return None


@asynccontextmanager
async def serve(*options: str, env: dict[str, str] | None = None) -> AsyncIterator[Served]:
    """`toolweave mcp serve --transport http` on a free port, with a scripted model."""
    async with OpenAIServer(deque([Reply(PLAN), Reply(ANSWER)] * 3)) as llm:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "toolweave", "mcp", "serve", "--transport", "http"),
            *("--port", "0", "--tools", "support.repl_tools:TOOLS"),
            *("--model", f"openai:scripted@{llm.base_url}", *options),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(TESTS), **(env or {})},
        )
        assert proc.stderr is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(30):
                while not (
                    found := re.search(r"serving `answer` at (\S+)", lines[-1] if lines else "")
                ):
                    line = (await proc.stderr.readline()).decode()
                    assert line, f"the server ended: {''.join(lines)}"
                    lines.append(line)
            url = found[1]
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            yield Served(f"http://127.0.0.1:{port}/mcp", port, lines)
        finally:
            proc.terminate()
            await proc.wait()


async def post(url: str, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})


async def test_off_loopback_serving_needs_the_token_and_checks_host_and_origin() -> None:
    async with serve("--host", "0.0.0.0") as served:
        token = served.token
        assert token is not None, served.stderr  # generated, and shown on stderr
        assert len(token) >= 32
        bearer = f"Bearer {token}"
        assert (await post(served.url)).status_code == 401
        assert (await post(served.url, Authorization="Bearer wrong")).status_code == 401
        assert (await post(served.url, Authorization=token)).status_code == 401  # no scheme
        foreign_host = await post(served.url, Authorization=bearer, Host="evil.example")
        assert foreign_host.status_code == 421
        foreign_origin = await post(served.url, Authorization=bearer, Origin="http://evil.example")
        assert foreign_origin.status_code == 403
        local = f"http://127.0.0.1:{served.port}"
        assert (await post(served.url, Authorization=bearer, Origin=local)).status_code == 200
        # a client with the token gets answers
        async with MCPSource.http(served.url, headers={"Authorization": bearer}) as source:
            value = await source.tools[0].fn(request="look a up")
        assert isinstance(value, dict)
        assert value["answer"] == "value-of-a"


async def test_the_token_and_the_allowed_hosts_can_be_given() -> None:
    secret = "t0k3n-from-the-environment-0123456789"
    options = ("--host", "0.0.0.0", "--allow-host", "mcp.example.com")
    options += ("--allow-origin", "https://app.example.com")
    async with serve(*options, env={"TOOLWEAVE_MCP_TOKEN": secret}) as served:
        assert served.token is None
        assert secret not in "".join(served.stderr)  # a given token is not shown
        bearer = f"Bearer {secret}"
        assert (await post(served.url)).status_code == 401
        named = await post(served.url, Authorization=bearer, Host="mcp.example.com")
        assert named.status_code == 200
        app = await post(served.url, Authorization=bearer, Origin="https://app.example.com")
        assert app.status_code == 200
        other = await post(served.url, Authorization=bearer, Host="evil.example")
        assert other.status_code == 421
    async with serve("--host", "0.0.0.0", "--token", secret) as served:
        assert (await post(served.url, Authorization=bearer)).status_code == 200


async def test_loopback_serving_keeps_the_host_checks_without_a_token() -> None:
    async with serve() as served:
        assert served.token is None
        assert (await post(served.url)).status_code == 200
        assert (await post(served.url, Host="evil.example")).status_code == 421
        assert (await post(served.url, Origin="http://evil.example")).status_code == 403


async def test_help_says_what_guards_the_server() -> None:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "toolweave", "mcp", "serve", "--help"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    text = " ".join(out.decode().split())
    for words in ("--token", "TOOLWEAVE_MCP_TOKEN", "--allow-host", "--allow-origin"):
        assert words in text
    assert "--allow-destructive" in text
    assert "bearer token" in text


@pytest.mark.parametrize("allowed", [False, True])
async def test_destructive_calls_need_the_operators_flag(allowed: bool, tmp_path: Path) -> None:
    asked: list[str] = []

    async def elicit(
        context: object, params: mcp_types.ElicitRequestParams
    ) -> mcp_types.ElicitResult:
        asked.append(params.message)
        return mcp_types.ElicitResult(action="accept", content={"approve": True})

    plan = '1. delete_file(path="notes.txt")\njoin()\n<END_OF_PLAN>'
    async with OpenAIServer(deque([Reply(plan), Reply("Action: Finish(ok)")])) as llm:
        command = StdioServerParameters(
            command=sys.executable,
            args=[
                *("-m", "toolweave", "mcp", "serve", "--tools", "support.repl_tools:TOOLS"),
                *("--model", f"openai:scripted@{llm.base_url}"),
                *(["--allow-destructive"] if allowed else []),
            ],
            env={"PYTHONPATH": str(TESTS)},
        )
        with (tmp_path / "serve.log").open("w") as log:
            transport = stdio_client(command, errlog=log)
            # elicitation needs a back-channel: connections of the handshake era have one
            async with Client(transport, elicitation_callback=elicit, mode="legacy") as client:
                listed = await client.list_tools()
                result = await client.call_tool("answer", {"request": "delete my notes"})
    hints = listed.tools[0].annotations
    assert hints is not None
    assert hints.destructive_hint is allowed
    data = result.structured_content
    assert isinstance(data, dict)
    task = data["trace"][0]
    if allowed:  # the operator allowed it: the client is asked, and says yes
        assert asked == ["Allow delete_file(path='notes.txt')? Delete a file."]
        assert task["state"] == "succeeded"
    else:  # refused without asking anyone
        assert asked == []
        assert task["state"] == "failed"
        assert "--allow-destructive" in task["result"]
