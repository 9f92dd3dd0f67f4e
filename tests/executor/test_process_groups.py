"""Process-isolated tools: a timeout, a cancel or a close ends what the tool started.

A tool declared ``isolation="process"`` may start processes of its own; stopping the
call must stop them too (the worker's whole process group), and never the caller.
Each tool here starts a grandchild that sleeps for a minute and reports its pid over a
loopback socket (an event to wait on, no polling); the test holds a pidfd on it, which
says when it ends and lets the test kill it, race-free, should the library not.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest
from support.isolated_tools import pid, spawn_and_return, spawn_then_hang, spawn_then_sleep

from toolweave import Agent, LocalExecutor, ToolError
from toolweave.models.testing import ScriptedModel

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfds"),
    pytest.mark.slow,  # worker processes and their grandchildren
]

BOUND = 5.0  # seconds: a grandchild still running after a stop plus this is left behind


class Grandchild:
    """A process the tool started, watched through a pidfd (it cannot be another's)."""

    def __init__(self, pid: int) -> None:
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already ended and reaped
            self._fd = None

    async def ends_within(self, seconds: float) -> bool:
        """Whether it ends (exits, reaped or not) within `seconds`."""
        if self._fd is None:
            return True
        readable, _, _ = await asyncio.to_thread(select.select, [self._fd], [], [], seconds)
        return bool(readable)

    def close(self) -> None:
        """Kill it if it still runs (the library failed), and let go of the pidfd."""
        if self._fd is None:
            return
        with suppress(ProcessLookupError):
            signal.pidfd_send_signal(self._fd, signal.SIGKILL)
        os.close(self._fd)


@asynccontextmanager
async def grandchildren() -> AsyncIterator[tuple[int, asyncio.Queue[Grandchild]]]:
    """A loopback port where tools report their grandchildren's pids; a queue of them."""
    reported: asyncio.Queue[Grandchild] = asyncio.Queue()
    started: list[Grandchild] = []

    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started.append(Grandchild(int(await reader.read())))
        reported.put_nowait(started[-1])
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(take, "127.0.0.1", 0)
    try:
        async with server:
            yield server.sockets[0].getsockname()[1], reported
    finally:
        for child in started:
            child.close()


async def test_a_timeout_ends_the_tools_own_processes() -> None:
    async with grandchildren() as (port, reported), LocalExecutor() as executor:
        await executor.run(pid, {})  # a warm worker: the timeout is all the tool's
        with pytest.raises(ToolError) as caught:
            await executor.run(spawn_then_hang, {"port": port})
        assert caught.value.kind == "timeout"
        child = await asyncio.wait_for(reported.get(), BOUND)
        assert await child.ends_within(BOUND)


async def test_a_cancelled_run_ends_the_tools_own_processes() -> None:
    async with grandchildren() as (port, reported):
        plan = f"1. spawn_then_sleep(port={port})\njoin()\n<END_OF_PLAN>"
        model = ScriptedModel([plan, "Thought: done.\nAction: Finish(ok)"])
        async with Agent(model, tools=[spawn_then_sleep]) as agent:
            async with asyncio.TaskGroup() as group:
                run = group.create_task(agent.run("start something slow"))
                child = await asyncio.wait_for(reported.get(), 30)  # the worker's first start
                run.cancel()
            assert run.cancelled()
            assert await child.ends_within(BOUND)


async def test_closing_the_executor_ends_what_a_tool_left_behind() -> None:
    async with grandchildren() as (port, reported):
        executor = LocalExecutor()
        try:
            assert await executor.run(spawn_and_return, {"port": port}) == "started"
            child = await asyncio.wait_for(reported.get(), BOUND)
            assert not await child.ends_within(0.05)  # the call is over, its child is not
        finally:
            executor.close()
        assert await child.ends_within(BOUND)
