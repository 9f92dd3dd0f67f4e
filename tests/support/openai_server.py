"""A minimal OpenAI-protocol server on loopback, scripted per request, for tests.

It speaks enough HTTP/1.1 for the `openai` client: POST /v1/chat/completions, answered
with a streamed (SSE, chunked) completion, an HTTP error, or a stream that breaks.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """How to answer one request.

    text: streamed in `chunk`-character pieces; status: an HTTP error instead (with
    `headers`, e.g. Retry-After); cut_after: abort the connection after this many
    pieces; finish: send a finish_reason; usage: report usage in a last chunk (cached:
    with its cached prompt tokens). A request
    that does not ask for a stream gets one JSON completion: `text` and `tool_calls`.

    Faults: reset: abort the connection before answering; stall: wait this many
    seconds before answering (or, with `stall_after`, after that many pieces);
    garbage: send this raw text as an SSE data line (malformed or truncated JSON)
    after `garbage_after` pieces, or after them all; endless: keep streaming pieces
    of `text` until the client hangs up (at most 100,000 pieces).
    """

    text: str = ""
    status: int = 200
    chunk: int = 5
    cut_after: int | None = None
    finish: bool = True
    usage: tuple[int, int] | None = (11, 7)
    cached: int | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    stall: float = 0.0
    stall_after: int | None = None
    garbage: str | None = None
    garbage_after: int | None = None
    endless: bool = False


@dataclass
class OpenAIServer:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    keep_alive: bool = False  # serve further requests on a connection, as real servers do
    connections: int = 0  # how many the clients opened
    _server: asyncio.Server | None = None
    _handlers: dict[asyncio.Task[Any], asyncio.StreamWriter] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> OpenAIServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._handlers.values()):  # kept alive, they wait for a request
            writer.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers[handler] = writer
        self.connections += 1
        try:
            while await self._answer(reader, writer) and self.keep_alive:
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up (an endless stream, a timeout): nothing to answer
        finally:
            self._handlers.pop(handler, None)
            if not writer.transport.is_closing():
                writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection is still fit for another."""
        connection = "keep-alive" if self.keep_alive else "close"
        head = await reader.readuntil(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line
        )
        length = int({k.lower(): v for k, v in headers.items()}.get("content-length", 0))
        body = json.loads(await reader.readexactly(length))
        self.requests.append(body)
        reply = self.replies.popleft() if self.replies else Reply(status=503)
        if reply.reset:
            writer.transport.abort()
            return False
        if reply.stall and reply.stall_after is None:
            await asyncio.sleep(reply.stall)
        if reply.status != 200:
            payload = json.dumps({"error": {"message": f"scripted {reply.status}", "type": "x"}})
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} Error\r\nContent-Type: application/json\r\n"
                f"{extra}Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
                f"{payload}".encode()
            )
            await writer.drain()
            return False
        if not body.get("stream"):
            payload = json.dumps(_completion(reply))
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: {connection}\r\n\r\n"
                f"{payload}".encode()
            )
            await writer.drain()
            return True
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: " + connection.encode() + b"\r\n\r\n"
        )
        pieces = [reply.text[i : i + reply.chunk] for i in range(0, len(reply.text), reply.chunk)]
        if reply.endless:
            for n in range(100_000):
                await self._event(writer, _chunk({"content": pieces[n % len(pieces)]}, None))
            return False
        for n, piece in enumerate(pieces):
            if reply.cut_after is not None and n == reply.cut_after:
                await writer.drain()
                writer.transport.abort()
                return False
            if reply.stall and n == reply.stall_after:
                await asyncio.sleep(reply.stall)
            if reply.garbage is not None and n == reply.garbage_after:
                await self._event(writer, reply.garbage)
            await self._event(writer, _chunk({"content": piece}, None))
        if reply.garbage is not None and reply.garbage_after is None:
            await self._event(writer, reply.garbage)
        if reply.finish:
            await self._event(writer, _chunk({}, "stop"))
        if reply.usage:
            p, c = reply.usage
            usage: dict[str, Any] = {
                "prompt_tokens": p,
                "completion_tokens": c,
                "total_tokens": p + c,
            }
            if reply.cached is not None:
                usage["prompt_tokens_details"] = {"cached_tokens": reply.cached}
            await self._event(writer, {**_chunk({}, None), "choices": [], "usage": usage})
        await self._event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _event(self, writer: asyncio.StreamWriter, data: object) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        event = f"data: {text}\n\n".encode()
        writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0)


def _chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(reply: Reply) -> dict[str, Any]:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if calls:
        message["tool_calls"] = calls
    completion: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
    }
    if reply.usage:
        p, c = reply.usage
        completion["usage"] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    return completion


class ThreadedServer:
    """An `OpenAIServer` on its own event loop in a thread, for tests that block
    (driving a subprocess in a pseudo-terminal)."""

    def __init__(self, replies: deque[Reply] | None = None, *, keep_alive: bool = False) -> None:
        import threading

        self.server = OpenAIServer(
            replies if replies is not None else deque(), keep_alive=keep_alive
        )
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.server.__aenter__())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.__aexit__())
        self._loop.close()

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        self._ready.wait(5)
        return self.server

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
