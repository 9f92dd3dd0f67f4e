"""MCP servers as a tool source, over stdio or streamable HTTP (the official `mcp` SDK).

Each server tool becomes a `Tool` whose calls go to the server over one shared
connection (`Link`): its input schema validates the arguments, its output schema is
the return type, its annotations decide the behaviour flags, an error result is a
`ToolError`, and progress notifications are `TaskProgress` events of the calling task.

A server is not trusted to behave: every call has a deadline, every message a size cap
(see `_mcp_stdio` and `_mcp_http`), connecting has a deadline, and a tool whose input
schema cannot validate anything is left out rather than offered.
"""

from __future__ import annotations

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
    import mcp_types
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    from mcp.shared.exceptions import MCPError
except ImportError as exc:  # pragma: no cover - the optional extra is missing
    raise ImportError(
        "MCP tool sources need the `mcp` extra: pip install 'toolweave[mcp]'"
    ) from exc

from toolweave.redaction import register_credentials
from toolweave.sources._convert import mcp_value, mcp_wrapped_schema
from toolweave.sources._mcp_checks import (
    behaviour,
    check_flags,
    check_limits,
    describe,
    dropped,
    unusable,
)
from toolweave.sources._mcp_http import open_http
from toolweave.sources._mcp_link import Link, Opener
from toolweave.sources._mcp_names import (
    command_name,
    identifier,
    valid_names,
)
from toolweave.sources._mcp_stdio import stdio_transport

__all__ = ["DEFAULT_MAX_RESULT_BYTES", "DEFAULT_TIMEOUT", "MCPSource", "ToolFlags"]

ToolFlags = Mapping[str, Mapping[str, bool]]
"""Behaviour flags by tool name, over the server's hints: ``{"rm": {"destructive": False}}``."""

DEFAULT_TIMEOUT = 60.0
"""Seconds a call (each attempt) may take unless a source says otherwise."""
DEFAULT_MAX_RESULT_BYTES = 16 * 1024 * 1024
"""The most bytes one message from a server may have unless a source says otherwise."""
_MAX_PAGES = 100  # of a tool listing


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

    Every call has a deadline, `call_timeout` (60 s unless told), which the executor
    applies to each attempt: past it, the call fails with a `ToolError` of kind ``timeout`` and
    the connection serves the next call. A message from the server is capped at
    ``max_result_bytes`` (16 MiB unless told): an answer over it fails its call.

    Args:
        opener: Makes the transport (use the constructors instead).
        name: A short identifier, used to prefix tool names that clash with others'.
        named: Whether `name` was chosen by the user (else the server's name wins).
        label: How error messages name the server (by default `name`).
        call_timeout: Seconds per call (each attempt), or `None` for no deadline.
        retries: Extra attempts for read-only and idempotent tools, on timeouts.
        flags: Behaviour flags by tool name, over the annotations.
        connect_timeout: Seconds to connect and list the tools (and to reconnect).
    """

    def __init__(
        self,
        opener: Opener,
        *,
        name: str,
        named: bool = True,
        label: str | None = None,
        call_timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = 1,
        flags: ToolFlags | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        check_limits(call_timeout=call_timeout, connect_timeout=connect_timeout)
        self._name, self._named, self._label = name, named, label or name
        self._timeout, self._retries = call_timeout, retries
        self._flags = check_flags(flags or {})
        self._connect_timeout = connect_timeout
        self._tools: list[Tool] = []
        self._skipped: dict[str, str] = {}
        self._listeners: list[Callable[[], None]] = []
        self._link = Link(
            opener, self._list, connect_timeout=connect_timeout, list_timeout=call_timeout
        )

    @classmethod
    def stdio(
        cls,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stderr: TextIO | None = None,
        name: str | None = None,
        call_timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = 1,
        flags: ToolFlags | None = None,
        connect_timeout: float = 30.0,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> MCPSource:
        """A server started as a subprocess, spoken to over its stdin and stdout.

        Environment values whose names say key, token, secret or password are
        registered as secrets (no run log or export shows them).

        Args:
            command: The command line, as one string (split as a shell would) or a list.
            env: Extra environment variables for the server.
            cwd: The server's working directory.
            stderr: Where the server's log goes; this process's stderr by default.
            name: See the class; by default the server's own name, else the command's
                (the program, or the module or script an interpreter runs).
            call_timeout: See the class.
            retries: See the class.
            flags: See the class.
            connect_timeout: See the class.
            max_result_bytes: The most bytes one message from the server may have.

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
        check_limits(max_result_bytes=max_result_bytes)
        register_credentials({}, env or {})
        params = StdioServerParameters(
            command=argv[0], args=argv[1:], env=dict(env) if env else None, cwd=cwd
        )

        async def open_stdio(stack: AsyncExitStack, on_trouble: Callable[[str], None]) -> Any:
            log, cap = stderr or sys.stderr, max_result_bytes
            return stdio_transport(params, errlog=log, max_bytes=cap, on_trouble=on_trouble)

        default, label = command_name(argv)
        return cls(
            open_stdio,
            name=name or default,
            named=name is not None,
            label=name or label,
            call_timeout=call_timeout,
            retries=retries,
            flags=flags,
            connect_timeout=connect_timeout,
        )

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        call_timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = 1,
        flags: ToolFlags | None = None,
        connect_timeout: float = 30.0,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> MCPSource:
        """A server at a streamable HTTP endpoint (``http://host:port/mcp``).

        Header values that carry credentials (``Authorization``, ``X-API-Key``, ...)
        are registered as secrets (no run log or export shows them).

        Args:
            url: The endpoint.
            headers: Sent with every request (``{"Authorization": "Bearer ..."}``).
            name: See the class; by default the server's own name, else ``mcp``.
            call_timeout: See the class.
            retries: See the class.
            flags: See the class.
            connect_timeout: See the class.
            max_result_bytes: The most bytes one answer from the server may have.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise UserError(f"an MCP HTTP endpoint is an http(s) URL, not {url!r}")
        check_limits(max_result_bytes=max_result_bytes)
        sent = dict(headers or {})
        register_credentials(sent, {})

        async def open_endpoint(stack: AsyncExitStack, on_trouble: Callable[[str], None]) -> Any:
            return await open_http(stack, url, sent, max_result_bytes)

        return cls(
            open_endpoint,
            name=name or "mcp",
            named=name is not None,
            label=name or parts.netloc.rpartition("@")[2] or "mcp",  # no credentials shown
            call_timeout=call_timeout,
            retries=retries,
            flags=flags,
            connect_timeout=connect_timeout,
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

    @property
    def skipped(self) -> dict[str, str]:
        """Tools of the last listing left out (input schemas that cannot check a call)."""
        return dict(self._skipped)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every change of `tools`."""
        self._listeners.append(callback)

    async def open(self) -> None:
        """Start the connection and list the tools, within ``connect_timeout``.

        Raises:
            UserError: The server cannot be started, reached or listed in time.
        """
        try:
            await self._link.open()
        except Exception as exc:
            late = isinstance(exc, TimeoutError)
            why = f"it did not answer within {self._connect_timeout:g}s" if late else describe(exc)
            raise UserError(f"MCP server {self._label}: cannot connect: {why}") from exc

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
        try:
            for _ in range(_MAX_PAGES):  # a server that pages without end is cut short
                page = await client.list_tools(cursor=cursor)
                listed += page.tools
                if not (cursor := page.next_cursor):
                    break
        except MCPError as exc:  # a server without tools may not know tools/list at all
            if exc.code != mcp_types.METHOD_NOT_FOUND or client.server_capabilities.tools:
                raise
        if not self._named and (info := client.server_info) is not None and info.name:
            self._name, self._label = identifier(info.name), info.name
        self._skipped = {}
        names = valid_names([entry.name for entry in listed])
        self._set_tools(
            tool
            for name, entry in zip(names, listed, strict=True)
            if (tool := self._tool(entry, name)) is not None
        )

    def _set_tools(self, tools: Iterable[Tool]) -> None:
        self._tools = list(tools)
        for callback in self._listeners:
            callback()

    def _tool(self, entry: mcp_types.Tool, name: str) -> Tool | None:
        hints = entry.annotations or mcp_types.ToolAnnotations()
        flags = behaviour(hints, self._flags.get(entry.name, {}))
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
        if (problem := unusable(tool)) is not None:
            self._skipped[remote] = problem
            return None
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
            if not dropped(exc):
                raise ToolError(tool.name, describe(exc), args=arguments) from exc
            trouble = self._link.trouble  # why the transport closed it, if it did
            await self._link.reconnect(generation)
            if trouble is not None:  # the same call would end the same way
                raise ToolError(tool.name, f"{trouble}; not repeated", args=arguments) from exc
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
                why = describe(again)
                if dropped(again):
                    why = f"the connection to the MCP server dropped during the call, twice ({why})"
                raise ToolError(tool.name, why, args=arguments) from again
        if result.is_error:
            texts = [b.text for b in result.content if isinstance(b, mcp_types.TextContent)]
            message = " ".join(" ".join(texts).split())[:500] or "the server reported an error"
            raise ToolError(tool.name, message, args=arguments)
        return mcp_value(result, wrapped=wrapped)

    async def _connection(self, tool: Tool, arguments: dict[str, Any]) -> tuple[Client, int]:
        connection = await self._link.connection()
        if connection is None:
            down = self._link.down
            reason = f": {describe(down)}" if down is not None else " (closed)"
            raise ToolError(
                tool.name,
                f"the MCP server {self._label} is not connected{reason}",
                args=arguments,
                kind="unavailable",
            )
        return connection
