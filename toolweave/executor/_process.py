"""Sync tools in worker processes, so that a timeout or a cancel really stops them.

A thread cannot be stopped from outside; a process can. A tool declared with
``isolation="process"`` runs in a worker process of its own for the duration of a call:
when the call times out or is cancelled, that worker is killed (and a fresh one is
started for the next call), so nothing keeps running after the user asked it to stop.
Idle workers are kept for reuse and stopped when the executor closes.

Each worker leads a session (and so a process group) of its own, and stopping a worker
kills the whole group: the processes a tool started (``subprocess.Popen``, a pool of
its own) end with it, and the caller's group is never touched. A tool that puts a
child in yet another session (``start_new_session=True``) takes it out of reach.

The function travels by reference (its module and qualified name), not by value, so it
must be defined at module level; arguments and results must be picklable.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Mapping
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from toolweave.errors import ToolError, UserError
from toolweave.tools import Tool

__all__ = ["ProcessPool"]


def _context() -> BaseContext:
    # fork is unsafe in a process with threads (the event loop's executor, rich's
    # refresher); forkserver forks from a clean single-threaded server instead, and
    # with toolweave preloaded there a new worker starts in milliseconds, not seconds
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])  # no effect once it runs
    return context


def _resolve(module: str, qualname: str) -> object:
    target: object = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    fn = getattr(target, "fn", None)  # `@tool` replaced the function by its Tool
    return fn if callable(fn) and not callable(target) else target


def _serve(conn: Connection) -> None:
    """A worker's loop: one call at a time, until the pipe closes."""
    if hasattr(os, "setsid"):  # POSIX: a group of its own, killed whole when stopped
        with contextlib.suppress(OSError):  # already a leader: then `_kill_group` finds none
            os.setsid()
    while True:
        try:
            module, qualname, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            fn = _resolve(module, qualname)
            assert callable(fn)
            value = fn(**kwargs)
        except BaseException as exc:
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            conn.send(("error", type(exc).__name__, str(exc) or last))
            continue
        try:
            conn.send(("ok", value))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send(("error", "PicklingError", f"the result cannot be sent back: {exc}"))


class _Worker:
    __slots__ = ("conn", "process")

    def __init__(self, context: BaseContext) -> None:
        parent, child = context.Pipe()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child,), daemon=True, name="toolweave-tool"
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent

    def kill(self) -> None:
        """Stop the worker and what it started now; never blocks the event loop.

        The dead process is reaped later by multiprocessing (on the next start, or
        `multiprocessing.active_children()`), not waited for here.
        """
        self.conn.close()
        _kill_group(self.process.pid)  # first: `is_alive` may reap the worker
        if self.process.is_alive():
            self.process.kill()


class ProcessPool:
    """Worker processes for sync tools declared ``isolation="process"``.

    Args:
        max_idle: How many idle workers to keep for reuse.
    """

    def __init__(self, *, max_idle: int = 8) -> None:
        self._context = _context()
        self._idle: list[_Worker] = []
        self._max_idle = max_idle

    async def call(self, tool: Tool, kwargs: Mapping[str, object]) -> object:
        """Call `tool` in a worker; a cancel (or timeout) kills that worker.

        Raises:
            ToolError: The arguments cannot be sent, or the call raised (its type and
                message are kept; the traceback stays in the worker).
        """
        fn = tool.fn
        assert fn is not None
        module, qualname = str(fn.__module__), fn.__qualname__  # checked by Tool
        if module == "__main__":  # a worker imports the main module under another name
            module = _main_module_name()
        worker = self._idle.pop() if self._idle else await self._start()
        try:
            try:
                worker.conn.send((module, qualname, dict(kwargs)))
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise ToolError(
                    tool.name,
                    f"the arguments cannot be sent to a worker process: {exc}",
                    args=kwargs,
                    kind="invalid_arguments",
                ) from exc
            reply = await _receive(worker.conn)
        except BaseException:
            worker.kill()  # cancelled or timed out mid-call: stop it for real
            raise
        if len(self._idle) < self._max_idle:
            self._idle.append(worker)
        else:
            worker.kill()  # idle: nothing is lost
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        raise ToolError(tool.name, f"{kind}: {message}", args=kwargs, kind="exception")

    async def _start(self) -> _Worker:
        """A new worker, started off the event loop; one cancelled while starting is killed."""
        starting = asyncio.get_running_loop().run_in_executor(None, _Worker, self._context)
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(_kill_started)
            raise

    def close(self) -> None:
        """Stop the idle workers (calls in flight are killed by their own cancel)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


def _kill_group(pid: int | None) -> None:
    """SIGKILL the process group that the worker `pid` leads, if it leads one yet.

    A group's id is its leader's pid, and a pid is not reused while a group bears it:
    so, the worker not yet reaped, a group `pid` can only be the one the worker made
    (or none, before its ``setsid``: then killing the worker alone is enough, as it
    has started nothing). The caller's own group is never a target.
    """
    if pid is None or not hasattr(os, "killpg") or pid == os.getpgrp():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):  # no such group (yet)
        os.killpg(pid, signal.SIGKILL)


def _kill_started(starting: asyncio.Future[_Worker]) -> None:
    if not starting.cancelled() and starting.exception() is None:
        starting.result().kill()


def _main_module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:  # python -m package.module
        return str(spec.name)
    if getattr(main, "__file__", None):  # a script: workers load it as __mp_main__
        return "__mp_main__"
    raise UserError("isolation='process' cannot find a tool defined in an interactive session")


async def _receive(conn: Connection) -> tuple[object, ...]:
    """The worker's reply, woken by the pipe becoming readable (no polling, no thread)."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    fd = conn.fileno()
    loop.add_reader(fd, wake)
    try:
        await readable
    finally:
        loop.remove_reader(fd)
    try:
        reply = conn.recv()
    except (EOFError, OSError) as exc:
        raise ToolError("worker", f"the worker process died: {exc or 'no reply'}") from exc
    assert isinstance(reply, tuple)
    return reply
