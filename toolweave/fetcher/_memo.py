"""`CallMemo`: identical calls of safe tools run once per run.

A call is identical to an earlier one when it names the same tool with the same
resolved arguments. For a read-only or idempotent tool (never a destructive one) the
later call takes the earlier result, or waits for the call still in flight, instead of
running again. One memo lives as long as a run, so a replan that writes a call again
gets the result of the first plan's call.

Failures are not kept: a later identical call runs again (the failure may have been
transient); calls that were waiting for the failed one fail with it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from toolweave.errors import ToolError
from toolweave.tools import Tool

__all__ = ["CallMemo"]


@dataclass(slots=True)
class _Entry:
    task_id: int
    done: asyncio.Future[object]


class CallMemo:
    """Results of the calls of one run, by tool and resolved arguments."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(tool: Tool, args: dict[str, object]) -> tuple[str, str] | None:
        """The memo key of a call, or None when the call must run every time."""
        if not tool.repeatable:
            return None
        try:
            return tool.name, json.dumps(args, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):  # an argument that is not plain data
            return None

    def find(self, key: tuple[str, str]) -> tuple[int, asyncio.Future[object]] | None:
        """The task that made this call first and its (possibly pending) result."""
        entry = self._entries.get(key)
        return None if entry is None else (entry.task_id, entry.done)

    def start(self, key: tuple[str, str], task_id: int) -> None:
        """Record that `task_id` makes this call now."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._entries[key] = _Entry(task_id, future)

    def succeed(self, key: tuple[str, str], value: object) -> None:
        """The call returned `value`: later identical calls take it."""
        entry = self._entries[key]
        if not entry.done.done():
            entry.done.set_result(value)

    def fail(self, key: tuple[str, str], error: ToolError) -> None:
        """The call failed (or was cut short): forget it; its waiters fail with it."""
        entry = self._entries.pop(key)
        if not entry.done.done():
            entry.done.set_exception(error)
            entry.done.exception()  # marked retrieved: nobody may be waiting
