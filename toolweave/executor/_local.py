"""`LocalExecutor`: runs tool calls on this process's event loop and worker threads."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import weakref
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from types import TracebackType
from typing import Protocol

import tenacity

from toolweave.errors import ApprovalPending, ToolError, UserError
from toolweave.executor._process import ProcessPool
from toolweave.tools import Tool

__all__ = ["Approver", "Executor", "LocalExecutor", "is_transient"]

Approver = Callable[[Tool, Mapping[str, object]], bool | Awaitable[bool | None] | None]
"""Decides whether a destructive tool may run with these (validated) arguments.

``None`` means nobody has decided yet: the call raises `ApprovalPending` (a run pauses).
"""


class Executor(Protocol):
    """Runs one tool call. The fetcher needs nothing else from an executor."""

    async def run(self, tool: Tool, args: Mapping[str, object]) -> object:
        """Validate `args`, call `tool`, return its value.

        Raises:
            ToolError: However the call failed.
        """
        ...


RUN_APPROVER: ContextVar[Approver | None] = ContextVar("toolweave_run_approver", default=None)
"""The approver of the agent whose run makes the current call (`Agent(approve=...)`).

Set for the run's duration, so that an executor shared by several agents asks each
call's own agent; where it is unset, the executor's own ``approve`` decides.
"""


def is_transient(exc: BaseException) -> bool:
    """The default test for errors worth a retry: timeouts and dropped connections."""
    return isinstance(exc, TimeoutError | ConnectionError)


class LocalExecutor:
    """Run tool calls concurrently in this process.

    Async tools run on the event loop, and a timeout or cancel stops them at their next
    await. Sync tools run on a pool of worker threads, where a timed-out or cancelled
    call is abandoned but not stopped (Python cannot stop a thread): it runs on to its
    end and holds its thread meanwhile. Sync tools declared ``isolation="process"`` run
    in worker processes instead, killed on timeout or cancel.

    Args:
        max_concurrency: How many calls may run at once through this executor.
        max_threads: Size of the worker thread pool for sync tools.
        default_timeout: Seconds per attempt for tools that set no timeout.
        approve: Asked before every call of a destructive tool, unless the call's
            run has an approver of its own (an `Agent`'s, `RUN_APPROVER`); without
            either, destructive tools are refused.
        transient: Which exceptions are worth a retry (for retryable tools).
        retry_wait: The tenacity wait strategy between attempts.
    """

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        max_threads: int = 64,
        default_timeout: float | None = None,
        approve: Approver | None = None,
        transient: Callable[[BaseException], bool] = is_transient,
        retry_wait: tenacity.wait.wait_base | None = None,
    ) -> None:
        limits = (
            ("max_concurrency", max_concurrency),
            ("max_threads", max_threads),
            ("default_timeout", default_timeout),
        )
        for name, value in limits:
            if value is not None and not value > 0:  # max_concurrency=0 meant no limit
                raise UserError(f"{name} must be positive, not {value!r}")
        self._max_concurrency = max_concurrency
        # Semaphores belong to the event loop they first block on: one set per loop, so
        # that `run_sync` twice (a new loop each time) or two loops at once both work.
        self._limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Limits] = (
            weakref.WeakKeyDictionary()
        )
        self._max_threads = max_threads
        self._pool: ThreadPoolExecutor | None = None
        self._processes: ProcessPool | None = None
        self._default_timeout = default_timeout
        self._approve = approve
        self._transient = transient
        self._retry_wait = retry_wait or tenacity.wait_random_exponential(multiplier=0.05, max=2.0)

    async def run(self, tool: Tool, args: Mapping[str, object]) -> object:
        """Validate, ask approval if destructive, then call within the limits."""
        if tool.fn is None:
            raise ToolError(
                tool.name, "this tool has no implementation", args=args, kind="unavailable"
            )
        kwargs = tool.validate(args)
        if tool.destructive:
            await self._check_approval(tool, kwargs)
        if self._max_concurrency is None and tool.max_concurrency is None:
            return await self._call(tool, kwargs)  # the common case: no limit to look up
        limits = self._loop_limits()
        async with _maybe(limits.run), _maybe(limits.for_tool(tool)):
            return await self._call(tool, kwargs)

    def close(self) -> None:
        """Release the worker threads and processes (calls still on threads run on)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._processes is not None:
            self._processes.close()
            self._processes = None

    async def __aenter__(self) -> LocalExecutor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------

    def _loop_limits(self) -> _Limits:
        loop = asyncio.get_running_loop()
        limits = self._limits.get(loop)
        if limits is None:
            limits = self._limits[loop] = _Limits(self._max_concurrency)
        return limits

    async def _check_approval(self, tool: Tool, kwargs: Mapping[str, object]) -> None:
        approve = RUN_APPROVER.get() or self._approve
        if approve is None:
            raise ToolError(
                tool.name,
                "refused: this tool is destructive and no approval callback is configured",
                args=kwargs,
                kind="refused",
            )
        verdict = approve(tool, kwargs)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict is None:
            raise ApprovalPending(tool.name, args=kwargs)
        if verdict is not True:  # "no" is truthy: only True approves a destructive call
            why = (
                "the call was not approved"
                if verdict is False
                else f"the approver answered {verdict!r}"
            )
            raise ToolError(tool.name, f"refused: {why}", args=kwargs, kind="refused")

    async def _call(self, tool: Tool, kwargs: dict[str, object]) -> object:
        try:
            return await self._attempt(tool, kwargs)
        except (Exception, SystemExit) as exc:  # a tool's exit() ends its call, not the app
            if not (tool.retryable and self._transient(exc)):
                raise self._error(tool, kwargs, exc, attempts=1) from exc
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(tool.retries),
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception(self._transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(tool, kwargs)
        except (Exception, SystemExit) as exc:
            attempts = 1 + retrying.statistics.get("attempt_number", tool.retries)
            raise self._error(tool, kwargs, exc, attempts=attempts) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(self, tool: Tool, kwargs: dict[str, object]) -> object:
        timeout = tool.timeout if tool.timeout is not None else self._default_timeout
        if timeout is None:
            if tool.is_async:  # the common case, one coroutine frame less
                return await tool.fn(**kwargs)  # type: ignore[misc]
            return await self._in_thread(tool, kwargs)
        async with asyncio.timeout(timeout):
            if tool.is_async:
                return await tool.fn(**kwargs)  # type: ignore[misc]
            return await self._in_thread(tool, kwargs)

    async def _in_thread(self, tool: Tool, kwargs: dict[str, object]) -> object:
        if tool.isolation == "process":
            if self._processes is None:
                self._processes = ProcessPool()
            return await self._processes.call(tool, kwargs)
        fn = tool.fn
        assert fn is not None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_threads, thread_name_prefix="toolweave")
        call = functools.partial(contextvars.copy_context().run, fn, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def _error(
        self,
        tool: Tool,
        kwargs: Mapping[str, object],
        exc: Exception | SystemExit,
        *,
        attempts: int,
    ) -> ToolError:
        if isinstance(exc, ToolError):
            return exc
        suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
        if isinstance(exc, TimeoutError):
            timeout = tool.timeout if tool.timeout is not None else self._default_timeout
            message = f"timed out after {timeout:g}s{suffix}" if timeout else f"timed out{suffix}"
            return ToolError(tool.name, message, args=kwargs, kind="timeout", attempts=attempts)
        message = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) + suffix
        return ToolError(tool.name, message, args=kwargs, kind="exception", attempts=attempts)


class _Limits:
    """The concurrency limits of one event loop: for all calls, and per tool."""

    __slots__ = ("per_tool", "run")

    def __init__(self, max_concurrency: int | None) -> None:
        self.run = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.per_tool: dict[str, asyncio.Semaphore] = {}

    def for_tool(self, tool: Tool) -> asyncio.Semaphore | None:
        if tool.max_concurrency is None:
            return None
        sem = self.per_tool.get(tool.name)
        if sem is None:
            sem = self.per_tool[tool.name] = asyncio.Semaphore(tool.max_concurrency)
        return sem


class _maybe:
    """`async with` a semaphore, or nothing."""

    __slots__ = ("_sem",)

    def __init__(self, sem: asyncio.Semaphore | None) -> None:
        self._sem = sem

    async def __aenter__(self) -> None:
        if self._sem is not None:
            await self._sem.acquire()

    async def __aexit__(self, *exc: object) -> None:
        if self._sem is not None:
            self._sem.release()
