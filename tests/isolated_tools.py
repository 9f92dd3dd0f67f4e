"""Module-level sync tools for the process-isolation tests (workers import them)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from toolweave import tool


@tool(isolation="process", timeout=0.5)
def hang_then_mark(marker: str, seconds: float = 3.0) -> str:
    """Sleep, then write a marker file: it must never appear when the call is stopped."""
    time.sleep(seconds)
    Path(marker).write_text("finished anyway")
    return "done"


@tool(isolation="process")
def pid() -> int:
    """The worker's process id."""
    return os.getpid()


@tool(isolation="process")
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@tool(isolation="process")
def sleep_then_mark(marker: str, seconds: float) -> str:
    """As `hang_then_mark`, without a timeout: stopped only by a cancel."""
    time.sleep(seconds)
    Path(marker).write_text("finished anyway")
    return "done"


@tool(isolation="process")
def squares(n: int) -> Iterator[int]:
    """The first n squares, yielded one by one (a generator tool)."""
    for i in range(n):
        yield i * i
