"""`Session`: a conversation whose turns each run sees; `TurnContext`, what a run takes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from toolweave.errors import UserError
from toolweave.fetcher import TaskResult, TaskState
from toolweave.models import Usage
from toolweave.session._store import SessionStore, Turn

if TYPE_CHECKING:
    from toolweave.events import RunEvents
    from toolweave.result import RunResult

__all__ = ["Runner", "Session", "TurnContext"]


class Runner(Protocol):
    """What runs a conversation's turns (an `Agent`): `run` and `stream` with ``session=``."""

    async def run(
        self, request: str, *, output_type: type[Any] | None = ..., session: Session | None = ...
    ) -> RunResult: ...

    def stream(
        self, request: str, *, output_type: type[Any] | None = ..., session: Session | None = ...
    ) -> AbstractAsyncContextManager[RunEvents]: ...


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What a run takes from its conversation: a preamble, earlier results, their values.

    Only the kept turns' values are known, and new task ids go on after them. A turn
    left out once never comes back (every later context keeps a newer suffix that it
    did not fit in); where new ids start over after it, the store gives the new turn
    fresh ids (`SessionStore.add`), so that the stored ids never meet.
    """

    preamble: str = ""
    history: tuple[TaskResult, ...] = ()
    values: Mapping[int, object] = field(default_factory=dict)

    def framed(self, request: str) -> str:
        """The request as the planner and the joiner read it: after the conversation."""
        return f"{self.preamble}\n\nThe new question: {request}" if self.preamble else request


class Session:
    """A conversation with an agent: each run sees the earlier turns.

    Made by `Agent.session`; use `run` or `stream` as on the agent. Runs started
    together on one `Session` take turns: each sees the turns before it. Give each
    thread (each event loop) its own `Session` on the conversation's id: they see
    each other's turns through the store.

    Attributes:
        id: The conversation's id in its store.
        turns: Its turns so far, oldest first, as stored (read again when a run starts).
        max_history_tokens: At most about this many tokens of earlier turns reach the
            planner; the oldest go first.
    """

    def __init__(
        self, agent: Runner, store: SessionStore, session_id: str, *, max_history_tokens: int
    ) -> None:
        self.agent = agent
        self.store = store
        self.id = session_id
        self.turns = store.turns(session_id)
        self.max_history_tokens = max_history_tokens
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn_lock: asyncio.Lock | None = None
        self._active = 0  # runs started here and not yet ended

    @classmethod
    def open(
        cls,
        runner: Runner,
        session_id: str | None = None,
        *,
        store: SessionStore | str | Path | None = None,
        max_history_tokens: int = 2_000,
    ) -> Session:
        """A conversation of `runner`'s: a new one, or the stored one with this id.

        Args:
            runner: Runs its turns (`Agent.session` passes the agent).
            session_id: Resume this conversation; a new one when `None`.
            store: Where conversations are kept: a `SessionStore`, a database path,
                or ``":memory:"``; the user's state directory by default.
            max_history_tokens: About how many tokens of earlier turns the planner
                may see; the oldest turns go first.

        Raises:
            UserError: No stored conversation has `session_id`.
        """
        kept = store if isinstance(store, SessionStore) else SessionStore(store)
        if session_id is None:
            session_id = kept.create()
        elif not kept.exists(session_id):
            raise UserError(f"no conversation {session_id!r} in {kept.path}")
        return cls(runner, kept, session_id, max_history_tokens=max_history_tokens)

    async def run(self, request: str, *, output_type: type[Any] | None = None) -> RunResult:
        """`Agent.run` within the conversation; a finished run becomes a turn.

        Raises:
            UserError: A run of this `Session` is under way in another thread.
        """
        return await self.agent.run(request, output_type=output_type, session=self)

    def stream(self, request: str) -> AbstractAsyncContextManager[RunEvents]:
        """`Agent.stream` within the conversation (after the runs started before it)."""
        return self.agent.stream(request, session=self)

    @asynccontextmanager
    async def _taking_turns(self) -> AsyncIterator[None]:
        """Hold the conversation's turn: one run at a time, in the order they came.

        Every run in the conversation takes it (`Session.run`, and `Agent.run`,
        `stream` or `resume` with ``session=``), before it reads the turns.
        """
        loop = asyncio.get_running_loop()
        with self._guard:
            if self._active and self._loop is not loop:
                raise UserError(
                    f"conversation {self.id} has a run under way in another thread; give "
                    f"each thread its own Session (agent.session({self.id!r})): they see "
                    "each other's turns"
                )
            if self._turn_lock is None or self._loop is not loop:
                self._loop, self._turn_lock = loop, asyncio.Lock()
            lock = self._turn_lock
            self._active += 1
        try:
            async with lock:
                yield
        finally:
            with self._guard:
                self._active -= 1

    @property
    def usage(self) -> Usage:
        """Tokens of every turn."""
        return sum((turn.usage for turn in self.turns), Usage())

    @property
    def cost(self) -> float:
        """What every turn cost together."""
        return sum(turn.cost for turn in self.turns)

    def add(self, result: RunResult) -> None:
        """Record a finished run as the next turn (the agent does this)."""
        turn = Turn(
            result.request,
            result.answer,
            result.run_id,
            [r for r in result.tasks.values() if r.state is TaskState.SUCCEEDED],
            result.usage,
            result.cost,
        )
        self.store.add(self.id, turn)
        self.turns = self.store.turns(self.id)  # as stored, with other writers' turns

    def context(self) -> TurnContext:
        """The latest turns that fit the token budget, for the next run.

        The turns are read from the store first: other writers' turns count.
        """
        self.turns = self.store.turns(self.id)
        kept: list[Turn] = []
        budget = self.max_history_tokens
        for turn in reversed(self.turns):
            budget -= turn.tokens()
            if budget < 0:
                break
            kept.append(turn)
        kept.reverse()
        if not kept:
            return TurnContext()
        lines = ["Earlier in this conversation:"]
        for turn in kept:
            lines.append(f"- Asked: {turn.request}\n  Answered: {turn.answer}")
        history = tuple(r for turn in kept for r in turn.results)
        return TurnContext("\n".join(lines), history, {r.task.id: r.value for r in history})
