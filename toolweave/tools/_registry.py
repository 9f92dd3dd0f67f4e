"""`ToolRegistry`: the tools an agent may use, by name; built to hold tens of thousands.

A registry holds tools and tool sources (MCP servers, OpenAPI specs: anything that
implements `ToolSource`). A source's tools join the registry when it is opened
(``async with registry``, or ``async with agent``) and follow the source's changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from toolweave.errors import ToolError, UserError
from toolweave.tools._tool import Tool

__all__ = ["ToolRegistry", "ToolSource", "as_registry"]


@runtime_checkable
class ToolSource(Protocol):
    """Tools that live elsewhere (a server, a spec), listed when the source opens.

    `toolweave.sources` has the MCP and OpenAPI sources; anything with these members
    can join a `ToolRegistry`.
    """

    @property
    def name(self) -> str:
        """A short identifier; it prefixes the source's tool names where they clash."""
        ...

    @property
    def tools(self) -> Sequence[Tool]:
        """The tools the source offers now (empty until it is open)."""
        ...

    async def open(self) -> None:
        """Connect (or load) and list the tools."""
        ...

    async def aclose(self) -> None:
        """Disconnect; the tools' calls fail from then on."""
        ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever `tools` changes."""
        ...


class ToolRegistry:
    """A set of tools keyed by name, in insertion order, and the sources they come from.

    Args:
        tools: Tools, and tool sources whose tools join when the registry opens.

    Example:
        ```python
        registry = ToolRegistry([search, math])
        registry.add(population)
        registry["search"]

        weather = MCPSource.stdio("python weather_server.py")
        async with ToolRegistry([weather, calculator]) as tools:
            ...  # the server's tools are in `tools`, until the block ends
        ```
    """

    def __init__(self, tools: Iterable[Tool | ToolSource] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._sources: list[ToolSource] = []
        self._from_sources: set[str] = set()
        self._listeners: list[Callable[[], None]] = []
        self._stack: AsyncExitStack | None = None
        self._depth = 0
        self._opened: asyncio.Event | None = None
        for item in tools:
            if isinstance(item, Tool):
                self.add(item)
            elif isinstance(item, ToolSource):
                self.add_source(item)
            else:
                raise UserError(
                    "expected a Tool (decorate functions with @tool) or a tool source, "
                    f"got {item!r}"
                )

    def add(self, tool: Tool, *, replace: bool = False) -> Tool:
        """Add a tool; a name already taken is an error unless `replace` is true."""
        if not isinstance(tool, Tool):
            raise UserError(f"expected a Tool (decorate functions with @tool), got {tool!r}")
        if not replace and tool.name in self._tools:
            raise UserError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def extended(self, tools: Iterable[Tool]) -> ToolRegistry:
        """A new registry with these tools, and this one's own tools and sources."""
        return ToolRegistry([*self.own_tools, *self._sources, *tools])

    @property
    def own_tools(self) -> list[Tool]:
        """The tools added directly, not through a source."""
        return [tool for tool in self if tool.name not in self._from_sources]

    # -- sources ----------------------------------------------------------------------

    @property
    def sources(self) -> list[ToolSource]:
        """The tool sources, in the order they were added."""
        return list(self._sources)

    def add_source(self, source: ToolSource) -> None:
        """Add a tool source; its tools join now if it is open, else when it opens."""
        self._sources.append(source)
        source.subscribe(self._sync)
        self._sync()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever a source's tools change the registry."""
        self._listeners.append(callback)

    async def open(self) -> None:
        """Open every source (in order) and add their tools.

        Opening nests: an open registry opened again stays open until the last
        `aclose` (an agent's run opens its registry, already open or not).
        """
        self._depth += 1
        if self._depth > 1:
            if self._opened is not None:
                await self._opened.wait()  # another task is opening it
            if self._stack is None:
                self._depth -= 1
                raise UserError("the registry's tool sources failed to open")
            return
        self._opened = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                for source in self._sources:
                    await source.open()
                    stack.push_async_callback(source.aclose)
                self._stack = stack.pop_all()
        except BaseException:
            self._depth -= 1
            raise
        finally:
            self._opened.set()
        self._sync()

    async def aclose(self) -> None:
        """Close every source (in reverse order) at the last close; their tools leave."""
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth:
            return
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self._sync()

    async def __aenter__(self) -> ToolRegistry:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _sync(self) -> None:
        """Put the sources' current tools in, prefixing names that clash."""
        for name in self._from_sources:
            self._tools.pop(name, None)
        self._from_sources.clear()
        offered = [(source, tool) for source in self._sources for tool in source.tools]
        counts: dict[str, int] = {}
        for _, tool in offered:
            counts[tool.name] = counts.get(tool.name, 0) + 1
        for source, tool in offered:
            named = tool
            if counts[tool.name] > 1 or tool.name in self._tools:
                name = base = _prefixed(source.name, tool.name)
                for n in range(2, len(self._tools) + 3):  # never raises: sync runs on changes
                    if name not in self._tools:
                        break
                    name = f"{base[:60]}_{n}"
                named = _renamed(tool, name)
            self._tools[named.name] = named
            self._from_sources.add(named.name)
        for callback in self._listeners:
            callback()

    def remove(self, name: str) -> Tool:
        """Remove a tool by name and return it."""
        self._lookup(name)
        return self._tools.pop(name)

    def get(self, name: str) -> Tool | None:
        """The tool named `name`, or `None`."""
        return self._tools.get(name)

    def __getitem__(self, name: str) -> Tool:
        return self._lookup(name)

    def _lookup(self, name: str) -> Tool:
        if not isinstance(name, str):
            raise TypeError(
                f"tools are found by name, not by {name!r}; registry.names() lists them"
            )
        try:
            return self._tools[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._tools, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no tool named {name!r}{hint}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        """The names of the tools, in insertion order."""
        return list(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({len(self)} tools)"


def as_registry(tools: ToolRegistry | Iterable[Tool | ToolSource]) -> ToolRegistry:
    """Accept a registry as it is, or gather tools (and sources) into a new one."""
    return tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)


def _renamed(tool: Tool, name: str) -> Tool:
    """`tool` under another name; its errors say the name the plan used."""
    fn = tool.fn
    if fn is None:
        return dataclasses.replace(tool, name=name)

    def renamed(error: ToolError) -> ToolError:
        return ToolError(
            name, error.message, args=error.arguments, kind=error.kind, attempts=error.attempts
        )

    if tool.is_async:

        async def call_async(**kwargs: Any) -> Any:
            try:
                return await fn(**kwargs)
            except ToolError as exc:
                raise renamed(exc) from exc

        return dataclasses.replace(tool, name=name, fn=call_async)

    def call(**kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except ToolError as exc:
            raise renamed(exc) from exc

    return dataclasses.replace(tool, name=name, fn=call)


def _prefixed(prefix: str, name: str) -> str:
    """``prefix_name``, cut to a valid tool name (an identifier of 64 characters at most)."""
    clean = re.sub(r"\W+", "_", prefix).strip("_") or "source"
    if clean[0].isdigit():
        clean = f"s{clean}"
    return f"{clean}_{name}"[:64]
