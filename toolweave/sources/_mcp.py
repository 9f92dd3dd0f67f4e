"""MCP servers as a tool source, over stdio or streamable HTTP (the official `mcp` SDK).

Each server tool becomes a `Tool` whose calls go to the server over one shared
connection (`Link`): its input schema validates the arguments, its output schema is
the return type, its annotations decide the behaviour flags, an error result is a
`ToolError`, and progress notifications are `TaskProgress` events of the calling task.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from toolweave.errors import ToolError, UserError
from toolweave.events import progress_reporter
from toolweave.tools import Tool

try:
    import anyio
    import httpx2
    import mcp_types
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client
    from mcp.shared.exceptions import MCPError
except ImportError as exc:  # pragma: no cover - the optional extra is missing
    raise ImportError(
        "MCP tool sources need the `mcp` extra: pip install 'toolweave[mcp]'"
    ) from exc

from toolweave.sources._convert import mcp_value, mcp_wrapped_schema
from toolweave.sources._mcp_link import Link, Opener

__all__ = ["MCPSource", "ToolFlags"]

ToolFlags = Mapping[str, Mapping[str, bool]]
"""Behaviour flags by tool name, over the server's hints: ``{"rm": {"destructive": False}}``."""

_FLAGS = frozenset({"read_only", "idempotent", "destructive"})
_NOT_WORD = re.compile(r"\W")


class MCPSource:
    """The tools of one MCP server, as toolweave `Tool`s.

    Build one with `MCPSource.stdio` (a command that starts the server) or
    `MCPSource.http` (a streamable HTTP endpoint). Its tools exist while it is open:
    ``async with source``, or inside an open `ToolRegistry` or `Agent`.

    The server's tool annotations decide the behaviour: ``readOnlyHint`` makes a tool
    read-only (retried on transient errors, memoised within a run), ``idempotentHint``
    idempotent (retried), and a tool that is not read-only is destructive (it needs
    approval) unless the server says ``destructiveHint: false``. Where a hint is
    missing, the safe choice is made; `flags` overrides any of it per tool.

    Args:
        opener: Makes the transport (use the constructors instead).
        name: A short identifier, used to prefix tool names that clash with others'.
        named: Whether `name` was chosen by the user (else the server's name wins).
        timeout: Seconds per call (each attempt), or `None`.
        retries: Extra attempts for read-only and idempotent tools, on timeouts.
        flags: Behaviour flags by tool name, over the annotations.
        connect_timeout: Seconds to connect and list the tools.
    """

    def __init__(
        self,
        opener: Opener,
        *,
        name: str,
        named: bool = True,
        timeout: float | None = None,
        retries: int = 1,
        flags: ToolFlags | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        self._name, self._named = name, named
        self._timeout, self._retries = timeout, retries
        self._flags = {tool: dict(values) for tool, values in (flags or {}).items()}
        for tool, values in self._flags.items():
            if unknown := set(values) - _FLAGS:
                raise UserError(
                    f"flags for {tool}: unknown {sorted(unknown)}; use {sorted(_FLAGS)}"
                )
        self._connect_timeout = connect_timeout
        self._tools: list[Tool] = []
        self._listeners: list[Callable[[], None]] = []
        self._link = Link(opener, self._list)

    @classmethod
    def stdio(
        cls,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stderr: TextIO | None = None,
        name: str | None = None,
        timeout: float | None = None,
        retries: int = 1,
        flags: ToolFlags | None = None,
    ) -> MCPSource:
        """A server started as a subprocess, spoken to over its stdin and stdout.

        Args:
            command: The command line, as one string (split as a shell would) or a list.
            env: Extra environment variables for the server.
            cwd: The server's working directory.
            stderr: Where the server's log goes; this process's stderr by default.
            name: See the class; by default the server's own name, else the script's.
            timeout: See the class.
            retries: See the class.
            flags: See the class.

        Example:
            ```python
            weather = MCPSource.stdio("python weather_server.py")
            async with Agent("local", tools=[weather]) as agent:
                await agent.run("Is it warmer in Paris or in Rome?")
            ```
        """
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise UserError("an MCP stdio server needs a command")
        params = StdioServerParameters(
            command=argv[0], args=argv[1:], env=dict(env) if env else None, cwd=cwd
        )

        async def open_stdio(stack: AsyncExitStack) -> Any:
            return stdio_client(params, errlog=stderr or sys.stderr)

        scripts = [a for a in argv[1:] if not a.startswith("-")]
        default = _NOT_WORD.sub("_", Path(scripts[-1] if scripts else argv[0]).stem)
        return cls(
            open_stdio,
            name=name or default or "mcp",
            named=name is not None,
            timeout=timeout,
            retries=retries,
            flags=flags,
        )

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        timeout: float | None = None,
        retries: int = 1,
        flags: ToolFlags | None = None,
    ) -> MCPSource:
        """A server at a streamable HTTP endpoint (``http://host:port/mcp``).

        Args:
            url: The endpoint.
            headers: Sent with every request (``{"Authorization": "Bearer ..."}``).
            name: See the class; by default the server's own name, else ``mcp``.
            timeout: See the class.
            retries: See the class.
            flags: See the class.
        """
        if urlsplit(url).scheme not in ("http", "https"):
            raise UserError(f"an MCP HTTP endpoint is an http(s) URL, not {url!r}")

        async def open_http(stack: AsyncExitStack) -> Any:
            http = await stack.enter_async_context(create_mcp_http_client(dict(headers or {})))
            return streamable_http_client(url, http_client=http)

        return cls(
            open_http,
            name=name or "mcp",
            named=name is not None,
            timeout=timeout,
            retries=retries,
            flags=flags,
        )

    @classmethod
    def from_target(cls, target: str) -> MCPSource:
        """A source from what follows ``mcp:`` in a ``--tools`` string.

        ``stdio:COMMAND`` starts a server; ``http(s)://...`` connects to one.
        """
        if target.startswith("stdio:"):
            return cls.stdio(target.removeprefix("stdio:"))
        if target.startswith(("http://", "https://")):
            return cls.http(target)
        raise UserError(f"mcp:{target}: expected mcp:stdio:COMMAND or mcp:http(s)://URL")

    # -- ToolSource ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The source's identifier (prefixes its tools' names where they clash)."""
        return self._name

    @property
    def tools(self) -> list[Tool]:
        """The server's tools as of the last listing; empty while closed."""
        return list(self._tools)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every change of `tools`."""
        self._listeners.append(callback)

    async def open(self) -> None:
        """Start the connection and list the tools.

        Raises:
            UserError: The server cannot be started, reached or listed.
        """
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._link.open()
        except Exception as exc:
            raise UserError(f"MCP server {self.name}: cannot connect: {_describe(exc)}") from exc

    async def aclose(self) -> None:
        """Close the connection (a stdio server is stopped); the tools leave."""
        await self._link.aclose()
        self._set_tools([])

    async def __aenter__(self) -> MCPSource:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- tools and calls ----------------------------------------------------------------

    async def _list(self, client: Client) -> None:
        listed: list[mcp_types.Tool] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        info = client.server_info
        if not self._named and info is not None and info.name:
            self._name = _NOT_WORD.sub("_", info.name)
        self._set_tools(self._tool(entry, name) for name, entry in _valid_names(listed))

    def _set_tools(self, tools: Iterable[Tool]) -> None:
        self._tools = list(tools)
        for callback in self._listeners:
            callback()

    def _tool(self, entry: mcp_types.Tool, name: str) -> Tool:
        hints = entry.annotations or mcp_types.ToolAnnotations()
        read_only = hints.read_only_hint is True
        flags = {
            "read_only": read_only,
            "idempotent": read_only or hints.idempotent_hint is True,
            "destructive": not read_only and hints.destructive_hint is not False,
        }
        flags.update(self._flags.get(entry.name, {}))
        if flags["read_only"]:
            flags["destructive"] = False
        return_schema, wrapped = mcp_wrapped_schema(entry.output_schema)
        remote = entry.name

        async def call(**arguments: Any) -> object:
            return await self._call(tool, remote, arguments, wrapped)

        tool = Tool.from_schema(
            name,
            entry.description or hints.title or entry.title or remote,
            entry.input_schema,
            call,
            return_schema=return_schema,
            timeout=self._timeout,
            retries=self._retries if flags["read_only"] or flags["idempotent"] else 0,
            metadata={"source": self.name, "kind": "mcp", "original_name": remote},
            read_only=flags["read_only"],
            idempotent=flags["idempotent"],
            destructive=flags["destructive"],
        )
        return tool

    async def _call(
        self, tool: Tool, remote: str, arguments: dict[str, Any], wrapped: bool
    ) -> object:
        report = progress_reporter()

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            report(progress, total, message)

        client, generation = await self._connection(tool, arguments)
        try:
            result = await client.call_tool(remote, arguments, progress_callback=progress)
        except Exception as exc:
            if not _dropped(exc):
                raise ToolError(tool.name, _describe(exc), args=arguments) from exc
            await self._link.reconnect(generation)
            if not (tool.read_only or tool.idempotent):
                raise ToolError(
                    tool.name,
                    "the connection to the MCP server dropped during the call; not repeated "
                    "(the tool is not marked safe to repeat)",
                    args=arguments,
                ) from exc
            client, _ = await self._connection(tool, arguments)
            try:
                result = await client.call_tool(remote, arguments, progress_callback=progress)
            except Exception as again:
                raise ToolError(tool.name, _describe(again), args=arguments) from again
        if result.is_error:
            texts = [b.text for b in result.content if isinstance(b, mcp_types.TextContent)]
            message = " ".join(" ".join(texts).split())[:500] or "the server reported an error"
            raise ToolError(tool.name, message, args=arguments)
        return mcp_value(result, wrapped=wrapped)

    async def _connection(self, tool: Tool, arguments: dict[str, Any]) -> tuple[Client, int]:
        connection = await self._link.connection()
        if connection is None:
            down = self._link.down
            reason = f": {_describe(down)}" if down is not None else " (closed)"
            raise ToolError(
                tool.name,
                f"the MCP server is not connected{reason}",
                args=arguments,
                kind="unavailable",
            )
        return connection


def _valid_names(entries: list[mcp_types.Tool]) -> list[tuple[str, mcp_types.Tool]]:
    """Each tool with a valid, unique toolweave name (MCP names may hold ``-`` and ``.``)."""
    out: list[tuple[str, mcp_types.Tool]] = []
    seen: set[str] = set()
    for entry in entries:
        base = _NOT_WORD.sub("_", entry.name)[:60] or "tool"
        if base[0].isdigit() or base == "join":
            base = f"t_{base}"
        name, n = base, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append((name, entry))
    return out


def _dropped(exc: BaseException) -> bool:
    """Whether a call failed because the connection is gone."""
    if isinstance(exc, MCPError):
        return exc.code == mcp_types.CONNECTION_CLOSED
    return isinstance(
        exc,
        anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | anyio.EndOfStream
        | httpx2.TransportError
        | ConnectionError,
    )


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    if isinstance(exc, MCPError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
