"""Small tools shared by the tests (the `registry` fixture, or `make_registry()`)."""

from __future__ import annotations

import asyncio

from toolweave import ToolRegistry, tool


@tool(read_only=True)
def population(country: str) -> int:
    """The population of a country.

    Args:
        country: The country's English name.
    """
    return {"France": 68_000_000, "Germany": 84_000_000}[country]


@tool(read_only=True)
def add(a: float, b: float = 0.0) -> float:
    """Add two numbers."""
    return a + b


@tool
async def echo(text: str) -> str:
    """Return the text."""
    await asyncio.sleep(0)
    return text


def make_registry() -> ToolRegistry:
    return ToolRegistry([population, add, echo])
