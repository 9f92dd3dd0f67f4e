"""The streamable HTTP transport to an MCP server, with a cap on what one answer may hold.

The SDK reads a JSON response whole, whatever its size, and caps server-sent events at
1 MiB unless told otherwise. Here both follow one limit, ``max_result_bytes``: each
event is capped by the SDK's own parser, and a JSON body by an HTTP transport that
counts the bytes as they arrive and fails the response past the limit (the SDK turns
that into an error of the one request; the connection serves on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Any

import httpx2
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

from toolweave.sources._mcp_stdio import size_text

__all__ = ["AnswerTooLarge", "open_http"]


class AnswerTooLarge(httpx2.StreamError):
    """A response body went over the limit (a `StreamError`: the SDK fails its request)."""


async def open_http(
    stack: AsyncExitStack, url: str, headers: Mapping[str, str], max_bytes: int
) -> Any:
    """The SDK's transport to `url`, over an HTTP client that caps response bodies."""
    http = httpx2.AsyncClient(
        # compressed bodies would be counted before they are inflated: ask for none
        headers={"Accept-Encoding": "identity", **headers},
        timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
        transport=_CappedTransport(httpx2.AsyncHTTPTransport(), max_bytes),
    )
    await stack.enter_async_context(http)
    return streamable_http_client(url, http_client=http, max_sse_event_size=max_bytes)


class _CappedTransport(httpx2.AsyncBaseTransport):
    """Passes requests on; a response that is not an event stream is capped."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if response.headers.get("content-type", "").lower().startswith("text/event-stream"):
            return response  # the SDK caps each event: a stream may rightly run for hours
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        capped = (
            _CappedStream(stream, self._limit, response.headers.get("content-length"))
            if encoding in ("", "identity")
            else _Refused(stream, encoding)  # counted here, it would be inflated after
        )
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=capped,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, declared: str | None) -> None:
        self._inner = inner
        self._limit = limit
        self._declared = int(declared) if declared and declared.isdigit() else 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        limit = size_text(self._limit)
        if self._declared > self._limit:
            raise AnswerTooLarge(
                f"the MCP server's answer is {size_text(self._declared)}, over the limit of "
                f"{limit} (max_result_bytes)"
            )
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise AnswerTooLarge(
                    f"the MCP server's answer is larger than {limit} (max_result_bytes)"
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Refused(httpx2.AsyncByteStream):
    """A compressed answer, sent though none was asked for: its true size is unknown."""

    def __init__(self, inner: httpx2.AsyncByteStream, encoding: str) -> None:
        self._inner = inner
        self._encoding = encoding

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise AnswerTooLarge(
            f"the MCP server sent its answer compressed ({self._encoding}) though asked "
            "not to: its size cannot be bounded before it is inflated, so it is refused"
        )
        yield b""  # pragma: no cover - makes this an async generator

    async def aclose(self) -> None:
        await self._inner.aclose()
