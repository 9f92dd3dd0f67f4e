"""The stdio transport to an MCP server, with a linear, bounded reader of its output.

The SDK's own stdio client joins its buffer with every chunk it reads, so one message
of n bytes costs time quadratic in n (64 MB took half a minute), and it reads a line
of any size. This transport starts and stops the server as the SDK does (its own
session, stdin closed first, then the process tree ended within bounded waits) but
reads stdout as bytes: lines are split in linear time, and a message is capped at
`max_bytes`. A response over the cap becomes an error of its request (the connection
serves on); a notification or request over the cap is dropped; a line over the cap
that is neither ends the connection, with a note saying why.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, NamedTuple, TextIO

import anyio
import mcp_types
from anyio.abc import ByteReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.stdio import StdioServerParameters, get_default_environment
from mcp.shared.message import SessionMessage

__all__ = ["LineSplitter", "Oversized", "size_text", "stdio_transport"]

_GRACE = 2.0  # seconds for the server to exit once its stdin closes, then after SIGTERM
_FLUSH = 0.5  # seconds for the writer to pass on what it accepted before stdin closes
_KEEP = 4096  # bytes kept of each end of a line over the cap (to find its request id)

_ID = r'(-?\d+|"(?:[^"\\]|\\.){0,200}")'
_VERSION = r'"jsonrpc"\s*:\s*"2\.0"\s*,\s*'
# A response whose id comes first (Python and Go servers) ...
_HEAD_ID = re.compile(
    rf'\s*\{{\s*(?:{_VERSION})?"id"\s*:\s*{_ID}\s*,\s*(?:{_VERSION})?"(?:result|error)"\s*:'.encode()
)
# ... or last (JavaScript servers write {"result": ..., "jsonrpc": "2.0", "id": 1}).
_HEAD_RESULT = re.compile(rb'\s*\{\s*"(?:result|error)"\s*:')
_TAIL_ID = re.compile(rf'"id"\s*:\s*{_ID}\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}}\s*$'.encode())
_HEAD_METHOD = re.compile(
    rf'\s*\{{\s*(?:{_VERSION})?(?:"id"\s*:\s*{_ID}\s*,\s*)?(?:{_VERSION})?"method"\s*:'.encode()
)

Streams = tuple[
    MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]
]


class Oversized(NamedTuple):
    """A line over the cap: its size and a little of each end."""

    size: int
    head: bytes
    tail: bytes


class LineSplitter:
    """Splits a byte stream into lines in linear time, keeping at most `limit` of a line.

    Args:
        limit: The most bytes one line may have; a longer one comes out as `Oversized`.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._over: tuple[bytes, bytes] | None = None  # (head, tail) once over the cap

    def feed(self, chunk: bytes) -> list[bytes | Oversized]:
        """The lines that `chunk` completes (without their line ends)."""
        lines: list[bytes | Oversized] = []
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            self._add(chunk[start:end])
            lines.append(self._take())
            start = end + 1
        if start < len(chunk):
            self._add(chunk[start:])
        return lines

    def _add(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._over is not None:
            head, tail = self._over
            self._over = (head + piece[: _KEEP - len(head)], (tail + piece)[-_KEEP:])
        elif self._size > self._limit:  # crossing the cap: keep the ends, drop the rest
            whole = b"".join(self._parts) + piece
            self._over, self._parts = (whole[:_KEEP], whole[-_KEEP:]), []
        else:
            self._parts.append(piece)

    def _take(self) -> bytes | Oversized:
        line: bytes | Oversized
        if self._over is not None:
            line = Oversized(self._size, *self._over)
        else:
            line = b"".join(self._parts).removesuffix(b"\r")
        self._parts, self._size, self._over = [], 0, None
        return line


def size_text(size: int) -> str:
    """Bytes in words: ``512 bytes``, ``3.5 KiB``, ``16 MiB``."""
    value, unit = float(size), "bytes"
    for larger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def response_id(head: bytes, tail: bytes) -> int | str | None:
    """The request id of a response, from the first and last bytes of its line."""
    found = _HEAD_ID.match(head)
    if found is None and _HEAD_RESULT.match(head):
        found = _TAIL_ID.search(tail)
    if found is None:
        return None
    rid = json.loads(found[1])
    return rid if isinstance(rid, int | str) else None


@asynccontextmanager
async def stdio_transport(
    params: StdioServerParameters,
    *,
    errlog: TextIO,
    max_bytes: int,
    on_trouble: Callable[[str], None],
) -> AsyncIterator[Streams]:
    """Start the server; yield the streams a `Client` takes; stop the server at the end.

    Args:
        params: The command, its arguments, environment and working directory.
        errlog: Where the server's stderr goes.
        max_bytes: The most bytes one message from the server may have.
        on_trouble: Told why, when the transport ends the connection itself.
    """
    process = await _spawn(params, errlog)
    # no await between the spawn and the task group: a cancel there would leak the process
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    writer_done = anyio.Event()
    stdin, stdout = process.stdin, process.stdout
    assert stdin is not None
    assert stdout is not None

    async def read() -> None:
        async with read_writer:
            await _read(stdout, read_writer, params, max_bytes, on_trouble)

    async def write() -> None:
        try:
            async with write_reader:
                async for message in write_reader:
                    text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await stdin.send(
                        (text + "\n").encode(params.encoding, params.encoding_error_handler)
                    )
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()  # the server stopped reading: the session ends
        finally:
            writer_done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        group.start_soon(write)
        try:
            yield read_stream, write_stream
        finally:
            # the server must be stopped even when the caller is cancelled; every wait
            # inside is bounded
            with anyio.CancelScope(shield=True):
                write_stream.close()
                with anyio.move_on_after(_FLUSH):
                    await writer_done.wait()
                read_stream.close()
                await _stop(process)
            group.cancel_scope.cancel()


async def _read(
    stdout: ByteReceiveStream,
    out: MemoryObjectSendStream[SessionMessage | Exception],
    params: StdioServerParameters,
    max_bytes: int,
    on_trouble: Callable[[str], None],
) -> None:
    """Pass the server's messages on; after the session is gone, drain its output.

    Draining keeps a server that flushes its output at exit from blocking on a full
    pipe; it ends when the pipe closes (the server exits, or is stopped).
    """
    lines = LineSplitter(max_bytes)
    forwarding = True
    with suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        async for chunk in stdout:
            if not forwarding:
                continue
            for line in lines.feed(chunk):
                item = _message(line, params, max_bytes)
                if item is _END:
                    on_trouble(_ended(line, max_bytes))
                    forwarding = False
                    await out.aclose()  # the session sees the connection end
                    break
                if item is not None:
                    try:
                        await out.send(item)
                    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                        forwarding = False
                        break


_END = object()
"""A line that ends the connection: over the cap, and no request's to fail alone."""


def _message(line: bytes | Oversized, params: StdioServerParameters, max_bytes: int) -> Any:
    """A message to pass on, an exception for the session, None (nothing), or `_END`."""
    if isinstance(line, Oversized):
        rid = response_id(line.head, line.tail)
        if rid is not None:
            why = (
                f"the MCP server's answer is {size_text(line.size)}, over the limit of "
                f"{size_text(max_bytes)} (max_result_bytes); it was dropped"
            )
            return _error(rid, mcp_types.INTERNAL_ERROR, why)
        return None if _HEAD_METHOD.match(line.head) else _END
    if not line.lstrip().startswith(b"{"):
        return None  # blank, or noise (a stray print): no message, not worth parsing
    try:
        text = line.decode(params.encoding, params.encoding_error_handler)
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False))
    except ValueError as exc:  # not JSON-RPC: fail its request, if it names one
        rid = response_id(line[:_KEEP], line[-_KEEP:])
        if rid is None:
            return exc  # the session passes it to the message handler, as the SDK does
        problem = str(exc).splitlines()[0][:200]
        why = f"the MCP server sent a malformed response: {problem}"
        return _error(rid, mcp_types.PARSE_ERROR, why)


def _error(rid: int | str, code: int, message: str) -> SessionMessage:
    error = mcp_types.ErrorData(code=code, message=message)
    return SessionMessage(mcp_types.JSONRPCError(jsonrpc="2.0", id=rid, error=error))


def _ended(line: bytes | Oversized, max_bytes: int) -> str:
    size = line.size if isinstance(line, Oversized) else len(line)
    return (
        f"the MCP server sent a message of {size_text(size)}, over the limit of "
        f"{size_text(max_bytes)} (max_result_bytes), that answers no request; the "
        "connection was closed"
    )


async def _spawn(params: StdioServerParameters, errlog: TextIO) -> Any:
    env = get_default_environment() | (params.env or {})
    if sys.platform == "win32":  # pragma: no cover - the SDK's Job Object keeps the tree
        from mcp.os.win32.utilities import create_windows_process, get_windows_executable_command

        command = get_windows_executable_command(params.command)
        return await create_windows_process(command, params.args, env, errlog, params.cwd)
    return await anyio.open_process(
        [params.command, *params.args],
        env=env,
        stderr=errlog,
        cwd=params.cwd,
        start_new_session=True,  # its own group: stopping it stops what it started
    )


async def _stop(process: Any) -> None:
    """Close stdin, give the server a moment to exit, then end its whole process tree."""
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    if not await _exited(process, _GRACE):
        if sys.platform == "win32":  # pragma: no cover
            from mcp.os.win32.utilities import terminate_windows_process_tree

            await terminate_windows_process_tree(process)
        else:
            from mcp.os.posix.utilities import terminate_posix_process_tree

            await terminate_posix_process_tree(process, _GRACE)
        await _exited(process, _GRACE)
    if sys.platform == "win32":  # pragma: no cover
        from mcp.os.win32.utilities import close_process_job

        close_process_job(process)
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdout.aclose()  # ends the reader's drain
    # a child that outlived the kill may hold the pipes: close the transport regardless
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with suppress(PermissionError):
            close()


async def _exited(process: Any, seconds: float) -> bool:
    """Whether the process exits within `seconds` (its returncode, not `wait()`).

    `wait()` also waits for the pipes to close, which a child holding them delays.
    """
    with anyio.move_on_after(seconds):
        while process.returncode is None:  # noqa: ASYNC110 - no exit event without pipe EOF
            await anyio.sleep(0.01)
    return bool(process.returncode is not None)
