"""MCP calls are bounded: a deadline by default, a cap on a message's size, connect_timeout.

Against tests/support/mcp_hostile.py, a raw JSON-RPC server that misbehaves on purpose.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from support import mcp_hostile
from support.mcp_fixtures import mcp_http_url, serve_http

from toolweave import Agent, TaskState, ToolError, UserError
from toolweave.executor import LocalExecutor
from toolweave.models.testing import ScriptedModel
from toolweave.redaction import REDACTED, redact_text
from toolweave.sources import MCPSource

HOSTILE = Path(mcp_hostile.__file__)
MiB = 1 << 20
FINISH = "Thought: done.\nAction: Finish(done)"


def hostile(scenario: str, size: int | None = None, **options: object) -> MCPSource:
    argv = [sys.executable, str(HOSTILE), scenario, *([str(size)] if size else [])]
    return MCPSource.stdio(argv, **options)  # type: ignore[arg-type]


@asynccontextmanager
async def hostile_http(scenario: str, size: int = 40 * MiB) -> AsyncIterator[str]:
    async with serve_http(mcp_hostile.app(scenario, size), force=True) as base:
        yield f"{base}/mcp"


async def call(source: MCPSource, name: str, **args: object) -> object:
    tool = {t.name: t for t in source.tools}[name]
    return await LocalExecutor().run(tool, args)


def pid(echoed: object) -> str:
    found = re.search(r"pid (\d+)", str(echoed))
    assert found, echoed
    return found[1]


# -- the deadline ------------------------------------------------------------------------


@pytest.mark.slow  # stdio server processes
async def test_every_call_has_a_deadline_by_default_and_it_is_settable() -> None:
    async with hostile("ok") as source, hostile("ok", call_timeout=2.5) as quick:
        assert {t.name: t.timeout for t in source.tools} == {"echo": 60.0, "poke": 60.0}
        assert {t.timeout for t in quick.tools} == {2.5}
    async with mcp_http_url() as url, MCPSource.http(url) as remote:
        assert {t.timeout for t in remote.tools} == {60.0}


@pytest.mark.slow  # a stdio server process
async def test_a_hung_call_fails_as_a_timeout_and_the_connection_serves_on() -> None:
    plan = '1. poke()\n2. echo(text="still here")\njoin()\n<END_OF_PLAN>'
    source = hostile("hang_call", call_timeout=0.3, retries=0)
    started = time.monotonic()
    async with Agent(ScriptedModel([plan, FINISH]), [source], time_limit=20) as agent:
        result = await agent.run("poke it")
        poke, echo = result.tasks[1], result.tasks[2]
        assert poke.state is TaskState.FAILED
        assert isinstance(poke.error, ToolError)
        assert poke.error.kind == "timeout"
        assert "timed out after 0.3s" in poke.error.message
        assert str(echo.value).startswith("echo: still here")
        # the same connection (the same server process) answers the next call
        assert pid(await call(source, "echo", text="again")) == pid(echo.value)
    assert time.monotonic() - started < 10


@pytest.mark.slow  # a stdio server process
async def test_connect_timeout_is_passed_through_both_constructors() -> None:
    started = time.monotonic()
    with pytest.raises(UserError, match=r"did not answer within 0\.5s"):
        await hostile("hang_initialize", connect_timeout=0.5).open()
    async with hostile_http("hang_initialize") as url:
        with pytest.raises(UserError, match=r"did not answer within 0\.5s"):
            await MCPSource.http(url, connect_timeout=0.5).open()
    assert time.monotonic() - started < 15  # stopping the stdio server is bounded too


# -- the size cap ------------------------------------------------------------------------


@pytest.mark.slow  # a stdio server process
@pytest.mark.parametrize("scenario", ["huge", "huge_tail"])
async def test_a_stdio_result_over_the_cap_fails_fast_and_the_connection_serves_on(
    scenario: str,
) -> None:
    async with asyncio.timeout(20), hostile(scenario, 40 * MiB) as source:  # default cap 16 MiB
        before = pid(await call(source, "echo", text="before"))
        started = time.monotonic()
        with pytest.raises(ToolError) as caught:
            await call(source, "poke")
        assert time.monotonic() - started < 5
        message = caught.value.message
        assert "max_result_bytes" in message
        assert "16 MiB" in message
        assert pid(await call(source, "echo", text="after")) == before  # not reconnected


@pytest.mark.slow  # stdio server processes
async def test_a_huge_line_of_no_response_drops_the_connection_with_a_clear_error() -> None:
    async with asyncio.timeout(20), hostile("huge_garbage", 20 * MiB, retries=0) as source:
        before = pid(await call(source, "echo", text="before"))
        with pytest.raises(ToolError, match="max_result_bytes") as caught:
            await call(source, "poke")
        assert "connection" in caught.value.message
        assert pid(await call(source, "echo", text="after")) != before  # a new server


@pytest.mark.slow  # a stdio server process
async def test_a_large_result_under_the_cap_comes_back_in_linear_time() -> None:
    size = 48 * MiB  # the SDK's reader took over a minute for this (it joined buffers)
    async with hostile("huge", size, max_result_bytes=64 * MiB) as source:
        started = time.monotonic()
        value = await call(source, "poke")
        assert isinstance(value, str)
        assert len(value) == size
        assert time.monotonic() - started < 10


async def test_an_http_result_over_the_cap_fails_and_the_connection_serves_on() -> None:
    async with (
        hostile_http("huge", 20 * MiB) as url,
        MCPSource.http(url, max_result_bytes=4 * MiB) as source,
    ):
        with pytest.raises(ToolError, match="max_result_bytes"):
            await call(source, "poke")
        assert str(await call(source, "echo", text="after")).startswith("echo: after")


async def test_an_sdk_server_answer_over_the_cap_fails_and_one_under_comes_back() -> None:
    async with mcp_http_url() as url, MCPSource.http(url) as source:
        assert await call(source, "big", n=3 * MiB) == "x" * (3 * MiB)
        with pytest.raises(ToolError, match="max_result_bytes"):
            await call(source, "big", n=17 * MiB)


@pytest.mark.parametrize(("size", "fits"), [(3 * MiB, True), (20 * MiB, False)])
async def test_an_answer_as_a_server_sent_event_follows_the_same_cap(size: int, fits: bool) -> None:
    # the SDK caps an event at 1 MiB unless told: the cap is max_result_bytes instead
    async with hostile_http("sse", size) as url, MCPSource.http(url) as source:
        if fits:
            assert await call(source, "poke") == "x" * size
        else:
            with pytest.raises(ToolError, match=r"larger than 16 MiB \(max_result_bytes\)") as cut:
                await call(source, "poke")
            assert "dropped" not in cut.value.message  # not taken for a drop, nor repeated
        assert str(await call(source, "echo", text="after")).startswith("echo: after")


@pytest.mark.slow  # a stdio server process
async def test_a_response_that_is_no_json_fails_its_call_at_once() -> None:
    async with hostile("malformed", call_timeout=10) as source:
        started = time.monotonic()
        with pytest.raises(ToolError, match="malformed") as caught:
            await call(source, "poke")
        assert caught.value.kind != "timeout"
        assert time.monotonic() - started < 5
        assert str(await call(source, "echo", text="after")).startswith("echo: after")


@pytest.mark.slow  # a stdio server process
async def test_noise_on_stdout_neither_breaks_nor_slows_the_connection() -> None:
    # 5,000 junk lines before each answer: the SDK parsed and logged each (5 s here)
    started = time.monotonic()
    async with asyncio.timeout(10), hostile("log_spam") as source:
        assert await call(source, "poke") == "poked"
    assert time.monotonic() - started < 2


# -- credentials -------------------------------------------------------------------------


def test_credentials_given_to_a_source_are_registered_as_secrets() -> None:
    MCPSource.http(
        "http://127.0.0.1:9/mcp",
        headers={"Authorization": "Bearer tok-4f1c9e", "X-Api-Key": "key-77a1b2", "X-Trace": "t1"},
    )
    MCPSource.stdio(["server"], env={"SERVICE_TOKEN": "env-9d8c7b", "LANGUAGE": "english"})
    shown = redact_text("auth: Bearer tok-4f1c9e, key: key-77a1b2, env: env-9d8c7b, english")
    for secret in ("tok-4f1c9e", "key-77a1b2", "env-9d8c7b"):
        assert secret not in shown
    assert shown.count(REDACTED) == 3
    assert shown.endswith(", english")  # not a secret: not hidden


async def test_a_compressed_http_answer_is_refused_not_inflated_past_the_cap() -> None:
    """Found by review: 97 kB of gzip inflated to 100 MB past a 1 MiB cap."""
    import gzip

    import httpx2

    from toolweave.sources._mcp_http import AnswerTooLarge, _CappedTransport

    bomb = gzip.compress(b'{"jsonrpc": "2.0", "id": 1, "result": "' + b"a" * 10_000_000 + b'"}')

    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx2.Response(200, headers=headers, content=bomb)

    capped = _CappedTransport(httpx2.MockTransport(answer), 1 << 20)
    async with httpx2.AsyncClient(transport=capped) as client:
        response = await client.send(client.build_request("POST", "http://mcp.test/"), stream=True)
        with pytest.raises(AnswerTooLarge, match="compressed"):
            await response.aread()
