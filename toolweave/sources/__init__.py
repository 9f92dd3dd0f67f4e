"""Tool sources: tools that live elsewhere, as toolweave `Tool`s.

- `MCPSource`: an MCP server's tools, over stdio or streamable HTTP (needs the
  ``mcp`` extra).
- `OpenAPISource`: one tool per operation of an OpenAPI 3 service.
- `parse_spec`: the command line's ``--tools`` strings.

Sources join a `ToolRegistry` (or an `Agent`'s ``tools=``) and connect when it is
opened with ``async with``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolweave.sources._openapi import OpenAPISource
from toolweave.sources._spec import parse_spec

if TYPE_CHECKING:
    from toolweave.sources._mcp import MCPSource

__all__ = ["MCPSource", "OpenAPISource", "parse_spec"]


def __getattr__(name: str) -> Any:
    if name == "MCPSource":  # the `mcp` SDK is an optional extra: import it on demand
        from toolweave.sources._mcp import MCPSource

        return MCPSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
