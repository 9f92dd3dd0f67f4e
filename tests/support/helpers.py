"""Small tools shared by the tests (the `registry` fixture, or `make_registry()`), and
waits on what another process does (`started_pid`, `process_ends`)."""

from __future__ import annotations

import asyncio
import os
import select
import time
from pathlib import Path

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


async def started_pid(path: Path, within: float = 30.0) -> int:
    """The process id a tool wrote to `path` (whole, by a rename) when it started."""
    async with asyncio.timeout(within):  # another process writes it: looked for every 10 ms
        while not path.exists():  # noqa: ASYNC110, ASYNC240
            await asyncio.sleep(0.01)
    return int(path.read_text())  # noqa: ASYNC240 - a few bytes


async def process_ends(pid: int, within: float = 10.0) -> bool:
    """Whether the process `pid` ends (exits, reaped or not) within `within` seconds.

    A stopped call is proved stopped by its process's end, not by a sleep past the
    moment it would have finished: a pidfd says when, with no polling (Linux).
    """
    if not hasattr(os, "pidfd_open"):  # elsewhere: ask every 10 ms
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            await asyncio.sleep(0.01)
        return False
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:  # already ended and reaped
        return True
    try:
        readable, _, _ = await asyncio.to_thread(select.select, [fd], [], [], within)
        return bool(readable)
    finally:
        os.close(fd)
