"""Where a run's CPU time goes, by stage of the hot path (for `latency_http.py --stages`).

No profiler: cProfile's cost per call inflates code that makes many small calls (the
pydantic models, the parser) several times over. Instead, two cheap hooks:

- every step of every asyncio callback is timed (`asyncio.events.Handle._run`) and
  charged to its task's coroutine: the run's own task (which reads the plan stream),
  the tool-call tasks, the consumer of the events, or the loop's other callbacks;
- named synchronous functions of the hot path are timed exclusively (a function's
  time less that of the named functions it calls), and taken out of their task's.

What is left of a task's time is its asynchronous plumbing: the HTTP client's async
layers, the generators between the socket and the parser, awaits and wake-ups. What is
left of the process's CPU time is the event loop's own (select, timers, transports).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STAGES: list[tuple[str, str, str]] = [  # (stage, module, attribute): those that exist
    ("HTTP/1.1 parsing (h11)", "h11._connection", "Connection.next_event"),
    ("HTTP/1.1 parsing (h11)", "h11._connection", "Connection.receive_data"),
    ("SSE decoding, chunk JSON and models", "openai._streaming", "SSEDecoder.decode"),
    ("SSE decoding, chunk JSON and models", "openai._streaming", "ServerSentEvent.json"),
    (
        "SSE decoding, chunk JSON and models",
        "openai._base_client",
        "BaseClient._process_response_data",
    ),
    ("SSE decoding, chunk JSON and models", "toolweave.models._sse", "SSEDecoder.feed"),
    ("SSE decoding, chunk JSON and models", "toolweave.models._openai", "read_chunk"),
    ("plan parser", "toolweave.plan._parser", "PlanParser.feed"),
    ("plan parser", "toolweave.plan._parser", "PlanParser.close"),
    ("fetcher: driver and scheduler", "toolweave.fetcher._execute", "_Driver._arrive"),
    ("fetcher: driver and scheduler", "toolweave.fetcher._execute", "_Driver._dispatch"),
    ("fetcher: driver and scheduler", "toolweave.fetcher._scheduler", "Scheduler.resolve"),
    ("fetcher: driver and scheduler", "toolweave.fetcher._scheduler", "Scheduler.succeed"),
    ("fetcher: fitting refs to schemas", "toolweave.fetcher._execute", "fit_refs"),
    ("run: emit, records, telemetry, event queue", "toolweave._run", "Run.emit"),
    ("run: emit, records, telemetry, event queue", "toolweave._run._loop", "Run.emit"),
    *(
        ("events: building the records", "toolweave.events", f"{name}.__init__")
        for name in ("TaskPlanned", "TaskStarted", "TaskSucceeded")
    ),
    ("per plan: the plan's grammar", "toolweave.planner._planner", "plan_grammar"),
    ("per plan: the plan's grammar", "toolweave.plan._rules", "Grammar.gbnf"),
    ("per call: prompts", "toolweave.planner._planner", "planner_messages"),
    ("per call: prompts", "toolweave.planner._joiner", "joiner_messages"),
    ("per call: the openai client's request", "openai._base_client", "BaseClient._build_request"),
]

TASKS = [  # (a piece of the coroutine's qualified name, the group)
    ("_Driver._call", "tool-call tasks"),
    ("produce", "the run's task"),
    ("Run.", "the run's task"),
    ("measure", "the consumer of the events (the benchmark)"),
]


class StageTimer:
    """Times the stages while `timing()` is active, on the main thread only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []
        self._main = threading.get_ident()
        self._undo: list[Callable[[], None]] = []
        self._patched: list[tuple[Any, str]] = []
        self._gc_start = 0.0

    def _wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        stack, seconds, calls, main = self._stack, self.seconds, self.calls, self._main
        clock = time.thread_time  # CPU time: a busy machine's preemptions are not ours

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != main:
                return fn(*args, **kwargs)
            start = clock()
            stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = clock() - start
                inner = stack.pop()
                seconds[stage] += spent - inner
                calls[stage] += 1
                if stack:
                    stack[-1] += spent

        return timed

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        old = owner.__dict__[name]
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old))

    @contextmanager
    def timing(self) -> Iterator[None]:
        for stage, module_name, path in STAGES:
            try:
                owner: Any = importlib.import_module(module_name)
            except ImportError:
                continue
            *classes, name = path.split(".")
            for part in classes:
                owner = getattr(owner, part, None)
            if owner is None or name not in getattr(owner, "__dict__", {}):
                continue
            if any(done is owner and n == name for done, n in self._patched):
                continue  # the same class under two names (a package re-exporting it)
            self._patched.append((owner, name))
            self._patch(owner, name, self._wrap(stage, getattr(owner, name)))
        self._patch(asyncio.events.Handle, "_run", self._handle_run())
        gc.callbacks.append(self._collecting)
        try:
            yield
        finally:
            gc.callbacks.remove(self._collecting)
            while self._undo:
                self._undo.pop()()

    def _collecting(self, phase: str, info: dict[str, int]) -> None:
        """A collection is a stage of its own, taken out of the code that set it off."""
        if threading.get_ident() != self._main:
            return
        if phase == "start":
            self._stack.append(0.0)
            self._gc_start = time.thread_time()
            return
        spent = time.thread_time() - self._gc_start
        self._stack.pop()
        self.seconds[f"garbage collection (generation {info['generation']})"] += spent
        self.calls[f"garbage collection (generation {info['generation']})"] += 1
        if self._stack:
            self._stack[-1] += spent

    def _handle_run(self) -> Callable[[asyncio.Handle], None]:
        run = asyncio.events.Handle.__dict__["_run"]
        stack, seconds = self._stack, self.seconds
        clock = time.thread_time  # CPU time: a busy machine's preemptions are not ours

        def timed(handle: asyncio.Handle) -> None:
            start = clock()
            stack.append(0.0)
            try:
                run(handle)
            finally:
                spent = clock() - start
                inner = stack.pop()
                seconds["task: " + _group(handle)] += spent - inner

        return timed


def _group(handle: asyncio.Handle) -> str:
    owner = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        return next((group for piece, group in TASKS if piece in name), "other tasks")
    return "the loop's other callbacks (sockets, timers)"


def table(timer: StageTimer, cpu: float, lines: int) -> list[tuple[str, float, int]]:
    """(stage, µs per plan line, calls) rows; `cpu` is the main thread's CPU time."""
    rows = [
        (stage, s * 1e6 / lines, timer.calls.get(stage, 0)) for stage, s in timer.seconds.items()
    ]
    rows.sort(key=lambda r: -r[1])
    timed = sum(timer.seconds.values())
    rest = (cpu - timed) * 1e6 / lines
    rows.append(("the event loop itself (select, scheduling: CPU less the above)", rest, 0))
    rows.append(("total: the main thread's CPU time", cpu * 1e6 / lines, 0))
    return rows
