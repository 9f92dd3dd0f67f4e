"""Module-level sync tools for the process-isolation tests (workers import them)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from toolweave import tool


def _say_started(path: str) -> None:
    """Write this worker's pid to `path`, whole or not at all (the test may be looking)."""
    if path:
        Path(f"{path}.part").write_text(str(os.getpid()))
        os.replace(f"{path}.part", path)


@tool(isolation="process", timeout=0.5)
def hang_then_mark(marker: str, seconds: float = 3.0, started: str = "") -> str:
    """Sleep, then write a marker file: it must never appear when the call is stopped."""
    _say_started(started)
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
def sleep_then_mark(marker: str, seconds: float, started: str = "") -> str:
    """As `hang_then_mark`, without a timeout: stopped only by a cancel."""
    _say_started(started)
    time.sleep(seconds)
    Path(marker).write_text("finished anyway")
    return "done"


@tool(isolation="process")
def squares(n: int) -> Iterator[int]:
    """The first n squares, yielded one by one (a generator tool)."""
    for i in range(n):
        yield i * i


def _spawn_and_report(port: int) -> None:
    """Start a grandchild that sleeps a minute; send its pid to the test on `port`."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with socket.create_connection(("127.0.0.1", port)) as report:
        report.sendall(str(child.pid).encode())


@tool(isolation="process", timeout=1.0)
def spawn_then_hang(port: int) -> str:
    """Start a grandchild, then hang past the timeout: the grandchild must die too."""
    _spawn_and_report(port)
    time.sleep(30)
    return "done"


@tool(isolation="process")
def spawn_then_sleep(port: int) -> str:
    """As `spawn_then_hang`, without a timeout: stopped only by a cancel."""
    _spawn_and_report(port)
    time.sleep(30)
    return "done"


@tool(isolation="process")
def spawn_and_return(port: int) -> str:
    """Start a grandchild and return at once, leaving it behind in the worker's group."""
    _spawn_and_report(port)
    return "started"
