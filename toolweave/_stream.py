"""A run's events handed out as they happen: `RunEvents`, and the task that feeds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias

from toolweave._result import RunResult
from toolweave.errors import ToolweaveError
from toolweave.events import Event

if TYPE_CHECKING:
    from toolweave._run import Run

__all__ = ["EventQueue", "RunEvents", "run_events"]

EventQueue: TypeAlias = asyncio.Queue[Event | BaseException | None]
"""A run's events, then the error that ended it (if one did), then `None`."""


class RunEvents:
    """The events of a run in flight, as `Agent.stream` hands them out.

    Attributes:
        result: The run's result, filled in as the run goes; final once the
            ``async with`` block has exited, however it exited (cancelled included).
    """

    def __init__(self, queue: EventQueue, result: RunResult) -> None:
        self._queue = queue
        self.result = result

    def __aiter__(self) -> RunEvents:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # stay exhausted
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item


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
