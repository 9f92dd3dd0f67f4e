"""An MCP server for the tests, written with the SDK's server API.

``python tests/support/mcp_server.py`` serves it over stdio; `build()` gives the server for
streamable HTTP (the tests run it with uvicorn on a loopback port).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel

READ_ONLY = ToolAnnotations(read_only_hint=True)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True)
SAFE_WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)

CITIES = {"Paris": (21.5, 2_100_000), "Rome": (27.0, 2_800_000), "Oslo": (9.0, 700_000)}
DELAY = 0.3  # seconds per lookup, long enough for overlap to show in the timings


class Weather(BaseModel):
    city: str
    celsius: float
    population: int


def build() -> MCPServer:
    server = MCPServer("citydata", instructions="City facts for the tests.")
    notes: dict[str, str] = {"groceries": "milk"}

    @server.tool(annotations=READ_ONLY)
    async def weather(city: str) -> Weather:
        """Today's weather in a city, with its population.

        Args:
            city: The city's English name.
        """
        await asyncio.sleep(DELAY)
        if city not in CITIES:
            raise ToolError(f"unknown city {city!r}")
        celsius, population = CITIES[city]
        return Weather(city=city, celsius=celsius, population=population)

    @server.tool(annotations=READ_ONLY)
    async def temperature(city: str) -> float:
        """The temperature in a city, in degrees Celsius."""
        await asyncio.sleep(DELAY)
        return CITIES[city][0]

    @server.tool(annotations=READ_ONLY)
    def difference(a: float, b: float) -> float:
        """The difference a - b."""
        return a - b

    @server.tool(annotations=READ_ONLY)
    def big(n: int) -> str:
        """A text of n bytes."""
        return "x" * n

    @server.tool(annotations=DESTRUCTIVE)
    def delete_note(title: str) -> str:
        """Delete a note, for good."""
        notes.pop(title, None)
        return f"deleted {title}"

    @server.tool(annotations=SAFE_WRITE)
    async def count(n: int, ctx: Context) -> str:
        """Count to n slowly, reporting progress."""
        for i in range(n):
            await asyncio.sleep(0.02)
            await ctx.report_progress(i + 1, n, f"counted {i + 1}")
        return f"counted to {n}"

    @server.tool(annotations=READ_ONLY)
    def fail(reason: str) -> str:
        """Always fails, with the reason given."""
        raise ToolError(f"failed on purpose: {reason}")

    @server.tool(annotations=SAFE_WRITE)
    async def enable_extra(ctx: Context) -> str:
        """Add the `extra` tool to the server's list."""
        server.add_tool(lambda: "extra!", name="extra", description="A tool added later.")
        await ctx.notify_tools_changed()  # 2026-07-28 sessions listen for changes
        with contextlib.suppress(Exception):  # earlier protocols: a notification
            await ctx.session.send_tool_list_changed()
        return "extra enabled"

    @server.tool()
    def crash() -> str:
        """Stop the server process at once (a dropped connection)."""
        os._exit(3)

    return server


if __name__ == "__main__":
    build().run("stdio")
    sys.exit(0)
