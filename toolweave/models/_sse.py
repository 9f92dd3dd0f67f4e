"""Reading a streamed Chat Completion: server-sent events into text deltas and usage.

The `openai` client builds a pydantic model of every chunk of a stream (about 120 µs
each); a plan streamed a line a chunk spent more on that than on parsing the plan.
`SSEDecoder` is a sans-IO decoder of the event stream (the WHATWG rules: lines end
with CRLF, LF or CR, a blank line ends an event, ``data:`` lines join with newlines,
comments and other fields are skipped), and `read_chunk` reads the few fields the
model needs out of one chunk's JSON, as the client's own stream would have:
``{"error": ...}`` raises `openai.APIError` with the server's message.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolweave.models._base import Usage

if TYPE_CHECKING:
    import httpx2

__all__ = ["DONE", "ChunkFields", "SSEDecoder", "api_error", "drain", "read_chunk"]

DONE = b"[DONE]"
"""The data of the event that ends an OpenAI stream."""


class SSEDecoder:
    """Split a byte stream into the data of its events: `feed` bytes, get payloads."""

    __slots__ = ("_cr", "_data", "_partial")

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # the start of a line whose end has not arrived
        self._data: list[bytes] = []  # the data lines of the event being read
        self._cr = False  # the last piece ended with CR: a LF first in the next is its pair

    def feed(self, piece: bytes) -> list[bytes]:
        """The data of every event that `piece` completed, in order."""
        if not piece:
            return []
        if self._cr and piece[0] == 10:  # b"\n": the LF of a CRLF split across pieces
            piece = piece[1:]
        self._cr = piece.endswith(b"\r")
        if b"\r" in piece:
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in piece:
            self._partial.append(piece)
            return []
        lines = piece.split(b"\n")
        if self._partial:
            lines[0] = b"".join([*self._partial, lines[0]])
            self._partial.clear()
        if last := lines.pop():
            self._partial.append(last)
        out: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line ends the event
                if data:
                    out.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
            elif line.startswith(b"data"):
                if len(line) == 4:  # a field name alone: an empty value
                    data.append(b"")
                elif line[4] == 58:  # b":"
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
            # comments (":...") and the other fields (event, id, retry) carry no text
        return out


@dataclass(slots=True)
class ChunkFields:
    """What one chunk of a streamed completion says: its text, its end, its usage."""

    text: str = ""
    finished: bool = False
    usage: Usage | None = None


def read_chunk(data: bytes, request: httpx2.Request) -> ChunkFields:
    """The fields of one chunk's JSON.

    Raises:
        openai.APIError: The server sent an error in the stream.
        ValueError: The data is not a JSON object (`json.JSONDecodeError` included).
    """
    chunk = json.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError(f"a chunk is not a JSON object: {data[:80]!r}")
    if error := chunk.get("error"):
        import openai

        message = error.get("message") if isinstance(error, dict) else None
        if not message or not isinstance(message, str):
            message = "An error occurred during streaming"
        raise openai.APIError(message=message, request=request, body=error)
    fields = ChunkFields()
    if (usage := chunk.get("usage")) is not None:
        fields.usage = _usage(usage)
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason") is not None:
            fields.finished = True
        delta = choice.get("delta")
        if delta and isinstance(text := delta.get("content"), str):
            fields.text += text
    return fields


def _usage(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details")
    cached = (details.get("cached_tokens") if isinstance(details, dict) else None) or 0
    return Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, cached)


def api_error(exc: Exception, request: httpx2.Request) -> Exception:
    """A transport error of the stream as the `openai` client's own stream raises it."""
    import anyio
    import httpx2
    import openai

    legacy = sys.modules.get("httpx")  # an `http_client` of the older httpx package
    timeouts: tuple[type[Exception], ...] = (httpx2.TimeoutException,)
    failures: tuple[type[Exception], ...] = (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream)
    if legacy is not None:
        timeouts, failures = (*timeouts, legacy.TimeoutException), (*failures, legacy.RequestError)
    error: Exception
    if isinstance(exc, timeouts):
        error = openai.APITimeoutError(request=request)
    elif isinstance(exc, failures):
        error = openai.APIConnectionError(request=request)
    else:
        return exc
    error.__cause__ = exc
    return error


async def drain(pieces: AsyncIterator[bytes]) -> None:
    """Read what follows ``[DONE]``, briefly, so that HTTP/1.1 can reuse the connection.

    As the client's own stream does (for 0.1 s); a body that goes on is closed instead.
    """
    try:
        async with asyncio.timeout(0.1):
            async for _ in pieces:
                pass
    except Exception:  # a timeout, the transport's errors: the text is complete anyway
        pass
