"""Tool sources: tools that live elsewhere, as toolweave `Tool`s.

- `MCPSource`: an MCP server's tools, over stdio or streamable HTTP (needs the
  ``mcp`` extra).
- `OpenAPISource`: one tool per operation of an OpenAPI 3 service.
- `parse_spec`: the command line's ``--tools`` strings; `registry_from_specs`: a
  `ToolRegistry` from them.

Sources join a `ToolRegistry` (or an `Agent`'s ``tools=``) and connect when it is
opened with ``async with``.

Layer: imports `tools`, `events`, `redaction` and `errors`; nothing above (the agent
opens them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolweave.sources._openapi import OpenAPISource
from toolweave.sources._spec import parse_spec, registry_from_specs

if TYPE_CHECKING:
    from toolweave.sources._mcp import MCPSource

__all__ = ["MCPSource", "OpenAPISource", "parse_spec", "registry_from_specs"]


def __getattr__(name: str) -> Any:
    if name == "MCPSource":  # the `mcp` SDK is an optional extra: import it on demand
        from toolweave.sources._mcp import MCPSource

        return MCPSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
