"""Values out of MCP tool results: structured content as typed JSON, else the text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types

__all__ = ["mcp_value", "mcp_wrapped_schema"]


def mcp_wrapped_schema(schema: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
    """The return schema to show the planner, and whether results come wrapped.

    Servers built on the SDK wrap a result that is not an object (a number, a list)
    as ``{"result": value}``, with an output schema of that one property; the tool
    then returns the value itself.
    """
    if schema is None:
        return None, False
    props = schema.get("properties")
    if (
        isinstance(props, Mapping)
        and set(props) == {"result"}
        and list(schema.get("required", ())) == ["result"]
    ):
        inner = dict(props["result"])
        if "$defs" in schema:
            inner["$defs"] = schema["$defs"]
        return inner, True
    return dict(schema), False


def mcp_value(result: mcp_types.CallToolResult, *, wrapped: bool) -> object:
    """A successful call's value: its structured content (unwrapped), else its content.

    Text blocks give text (one block: a string; several: a list of strings); other
    blocks (images, audio, resources) give their JSON form, so nothing is lost.
    """
    structured = result.structured_content
    if structured is not None:
        if wrapped and isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    values = [_block(block) for block in result.content]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _block(block: mcp_types.ContentBlock) -> object:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    return block.model_dump(mode="json", by_alias=True, exclude_none=True)
