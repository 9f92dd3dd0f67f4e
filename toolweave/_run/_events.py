"""A run's events handed out as they happen: the task that feeds `RunEvents`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from toolweave.errors import ToolweaveError
from toolweave.events import EventQueue, RunEvents

if TYPE_CHECKING:
    from toolweave._run._loop import Run

__all__ = ["run_events"]


@asynccontextmanager
async def run_events(
    run: Run,
    queue: EventQueue,
    sources_open: Callable[[], AbstractAsyncContextManager[None]],
) -> AsyncIterator[RunEvents]:
    """Run `run` (emitting into `queue`) beside the caller's block; leaving it cancels."""

    async def produce() -> None:
        try:
            async with sources_open():
                await run.run()
        except ToolweaveError as exc:
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(None)

    try:
        async with asyncio.TaskGroup() as group:
            producer = group.create_task(produce())
            try:
                yield RunEvents(queue, run.result)
            finally:
                producer.cancel()
    except BaseExceptionGroup as errors:
        # the producer never raises (errors travel through the queue), so the
        # group holds the one error of the consumer's block: surface it as raised
        if len(errors.exceptions) == 1:
            error = errors.exceptions[0]
            raise error from error.__cause__  # keep its own cause, not the group
        raise
