"""`ToolRegistry`: the tools an agent may use, by name; built to hold tens of thousands."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from toolweave.errors import UserError
from toolweave.tools._tool import Tool

__all__ = ["ToolRegistry", "as_registry"]


class ToolRegistry:
    """A set of tools keyed by name, in insertion order.

    Args:
        tools: Tools to start with.

    Example:
        ```python
        registry = ToolRegistry([search, math])
        registry.add(population)
        registry["search"]
        ```
    """

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, tool: Tool, *, replace: bool = False) -> Tool:
        """Add a tool; a name already taken is an error unless `replace` is true."""
        if not isinstance(tool, Tool):
            raise UserError(f"expected a Tool (decorate functions with @tool), got {tool!r}")
        if not replace and tool.name in self._tools:
            raise UserError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

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


def as_registry(tools: ToolRegistry | Iterable[Tool]) -> ToolRegistry:
    """Accept a registry as it is, or gather tools into a new one."""
    return tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
