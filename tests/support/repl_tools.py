"""Tools for the REPL's end-to-end test (imported by the REPL subprocess)."""

from __future__ import annotations

import asyncio

from toolweave import ToolRegistry, tool


@tool(read_only=True)
async def lookup(key: str) -> str:
    """Look a key up."""
    return f"value-of-{key}"


@tool(read_only=True)
async def slow(seconds: float) -> str:
    """Wait, then answer."""
    await asyncio.sleep(seconds)
    return "finally"


@tool(destructive=True)
def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


TOOLS = ToolRegistry([lookup, slow, delete_file])
