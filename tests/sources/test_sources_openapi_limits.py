"""OpenAPI sources against a hostile service on loopback (tests/support/hostile_http.py).

Every call ends within a deadline, reads at most a capped number of bytes, and sends
nothing outside the spec's paths; what the caller got wrong (a dot segment, a line break
in a header) is an invalid-arguments error, sent nowhere and not retried.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote, unquote

import pytest
from support.hostile_http import TOKEN, Hostile, serve

from toolweave import Agent, LocalExecutor, TaskState, ToolError, ToolRegistry, UserError
from toolweave.models.testing import ScriptedModel
from toolweave.redaction import REDACTED, redact_text
from toolweave.sources import OpenAPISource

MiB = 1024 * 1024
FINISH = "Thought: done.\nAction: Finish(ok)"


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    monkeypatch.setenv("HOSTILE_TOKEN", TOKEN)
    with serve() as running:
        yield running


def source(hostile: Hostile, **options: object) -> OpenAPISource:
    return OpenAPISource(f"{hostile.url}/openapi.json", bearer_env="HOSTILE_TOKEN", **options)  # type: ignore[arg-type]


@pytest.fixture
async def tools(hostile: Hostile) -> AsyncIterator[ToolRegistry]:
    async with ToolRegistry([source(hostile, call_timeout=1.0)]) as registry:
        yield registry


async def call(tools: ToolRegistry, operation: str, /, **args: object) -> object:
    """One call through the executor (so that retries show), bounded from outside too."""
    async with LocalExecutor() as executor, asyncio.timeout(15):
        return await executor.run(tools[operation], args)


def api_paths(hostile: Hostile) -> list[str]:
    return [p for p in hostile.seen.paths if p != "/openapi.json"]


# -- 6: a total deadline, a size cap, no climbing out of the spec's paths ----------------


@pytest.mark.parametrize("operation", ["dripFeed", "stall"])
async def test_a_slow_response_ends_at_the_call_deadline(
    tools: ToolRegistry, hostile: Hostile, operation: str
) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        await call(tools, operation)
    assert time.monotonic() - started < 3.0
    assert caught.value.kind == "timeout"
    assert "1s" in caught.value.message
    assert caught.value.attempts == 1  # a missed deadline is not retried
    assert api_paths(hostile) == [f"/api/{'drip' if operation == 'dripFeed' else 'stall'}"]


async def test_the_call_deadline_must_be_positive() -> None:
    with pytest.raises(UserError, match="call_timeout"):
        OpenAPISource({}, call_timeout=0)
    with pytest.raises(UserError, match="max_response_bytes"):
        OpenAPISource({}, max_response_bytes=-1)


async def test_a_huge_body_stops_at_the_default_cap_with_memory_bounded(
    hostile: Hostile,
) -> None:
    async with ToolRegistry([source(hostile)]) as tools:
        tracemalloc.start()
        try:
            with pytest.raises(ToolError) as caught:
                await call(tools, "hugeBody")  # 50 MiB
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "larger than 16 MiB" in caught.value.message
    assert "max_response_bytes" in caught.value.message
    assert peak < 32 * MiB


@pytest.mark.parametrize("operation", ["hugeBody", "endlessChunks", "gzipBomb"])
async def test_the_size_cap_is_settable_and_bounds_every_body(
    hostile: Hostile, operation: str
) -> None:
    async with ToolRegistry([source(hostile, max_response_bytes=MiB)]) as tools:
        tracemalloc.start()
        try:
            with pytest.raises(ToolError, match=r"larger than 1 MiB") as caught:
                await call(tools, operation)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert caught.value.attempts == 1
    assert peak < 8 * MiB


@pytest.mark.parametrize("value", ["..", ".", ""])
async def test_a_dot_segment_in_a_path_parameter_is_refused_unsent(
    tools: ToolRegistry, hostile: Hostile, value: str
) -> None:
    with pytest.raises(ToolError) as caught:
        await call(tools, "getFile", name=value)
    assert caught.value.kind == "invalid_arguments"
    assert "'name'" in caught.value.message
    with pytest.raises(ToolError, match="'folder'"):
        await call(tools, "getNestedFile", folder=value, name="x")
    assert api_paths(hostile) == []  # not the parent collection, not with the token


async def test_a_plan_cannot_climb_to_the_parent_collection(hostile: Hostile) -> None:
    plan = '1. getFile(name="..")\njoin()\n<END_OF_PLAN>'
    agent = Agent(ScriptedModel([plan, FINISH]), tools=[source(hostile)], max_replans=0)
    async with agent:
        result = await agent.run("read the file called ..")
    task = result.tasks[1]
    assert task.state is TaskState.FAILED
    assert task.error is not None
    assert task.error.kind == "invalid_arguments"
    assert "dot segment" in task.error.message
    assert api_paths(hostile) == []


@pytest.mark.parametrize(
    "value",
    ["a/../b", "/etc/passwd", "../../etc/passwd", "?x=1", "#frag", "%2e%2e", "..%2f", "...",
     "a b", "é", "{name}", "\r\n", "\\..\\"],
)  # fmt: skip
async def test_a_path_parameter_is_one_encoded_segment(
    tools: ToolRegistry, hostile: Hostile, value: str
) -> None:
    assert await call(tools, "getFile", name=value) == {
        "path": f"/api/files/{quote(value, safe='')}"
    }
    [path] = api_paths(hostile)
    segment = path.removeprefix("/api/files/")
    assert "/" not in segment
    assert unquote(segment) == value


# -- 7: a header parameter with a line break is the caller's error -----------------------


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00b", "é", "\x7f"])
async def test_a_header_value_that_cannot_be_sent_is_invalid_arguments(
    tools: ToolRegistry, hostile: Hostile, value: str
) -> None:
    with pytest.raises(ToolError) as caught:
        await call(tools, "note", X_Note=value)
    assert caught.value.kind == "invalid_arguments"
    assert caught.value.attempts == 1
    assert "'X-Note'" in caught.value.message
    assert hostile.seen.notes == []  # zero requests sent
    assert api_paths(hostile) == []
    assert await call(tools, "note", X_Note="plain, with\ttabs") == "plain, with\ttabs"
    assert await call(tools, "note", X_Note=" \tpadded ") == "padded"  # not part of a value


async def test_a_line_break_in_a_query_parameter_is_sent_encoded(
    tools: ToolRegistry, hostile: Hostile
) -> None:
    hostile_value = "a\r\nX-Evil: 1&admin=true#frag"
    assert await call(tools, "search", q=hostile_value) == {"q": [hostile_value]}
    assert len(api_paths(hostile)) == 1


# -- also: redirects, long error bodies, lying services, the token as a secret ---------


async def test_a_redirect_is_not_followed_and_the_token_stays_home(
    tools: ToolRegistry, hostile: Hostile
) -> None:
    with pytest.raises(ToolError, match=r"HTTP 302.*not followed") as caught:
        await call(tools, "redirectAway")
    assert hostile.other_url in caught.value.message
    with pytest.raises(ToolError, match="HTTP 302"):
        await call(tools, "redirectLoop")
    assert hostile.other_seen.requests == []
    assert api_paths(hostile) == ["/api/away", "/api/loop"]


async def test_error_bodies_are_cut_short_in_messages(tools: ToolRegistry) -> None:
    with pytest.raises(ToolError, match="HTTP 500") as caught:
        await call(tools, "serverError")  # a 120 KB body
    assert len(caught.value.message) < 400


async def test_a_lying_service_gives_clear_errors(tools: ToolRegistry, hostile: Hostile) -> None:
    with pytest.raises(ToolError, match="not valid JSON") as bad:
        await call(tools, "badJson")
    assert bad.value.kind == "exception"
    with pytest.raises(ToolError, match="nested too deeply"):
        await call(tools, "deepJson")
    assert isinstance(await call(tools, "wrongType"), str)
    with pytest.raises(ToolError) as reset:
        await call(tools, "resetMidBody")
    assert reset.value.attempts == 2  # a dropped connection is retried (read-only)
    with pytest.raises(ToolError):
        await call(tools, "hugeHeaders")


async def test_the_bearer_token_and_credential_headers_are_secrets(hostile: Hostile) -> None:
    keyed = OpenAPISource(
        f"{hostile.url}/openapi.json",
        headers={"X-Api-Key": "key-for-the-hostile-api", "Accept-Language": "en-GB-oxford"},
    )
    async with ToolRegistry([source(hostile), keyed]):
        pass
    assert redact_text(f"Bearer {TOKEN}") == f"Bearer {REDACTED}"
    assert redact_text("key-for-the-hostile-api") == REDACTED
    assert redact_text("en-GB-oxford") == "en-GB-oxford"


async def test_fetching_the_spec_is_bounded_too(hostile: Hostile) -> None:
    started = time.monotonic()
    with pytest.raises(UserError, match=r"cannot fetch .* no complete response within 1s"):
        await OpenAPISource(f"{hostile.url}/api/drip", call_timeout=1.0).open()
    assert time.monotonic() - started < 3.0
    with pytest.raises(UserError, match="larger than 1 MiB"):
        await OpenAPISource(f"{hostile.url}/api/huge", max_response_bytes=MiB).open()
