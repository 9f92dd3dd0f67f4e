"""Conversations: earlier turns carried into the next run, kept in SQLite.

A turn keeps the request, the answer and, compactly, the values its tasks produced.
The next run's planner sees them (the requests and answers as a preamble, the values as
earlier results it may name with ``$N``: task ids go on across turns), so a follow-up
("and Italy?") can refer to the conversation and reuse a value without calling again.
What the planner sees is bounded by a token budget: the oldest turns go first.

Several writers may share a conversation (two processes, two web workers, two
`Session` objects on one id): a run reads the turns from the store when it starts, so
it sees the others' turns; a turn is appended in one write transaction that gives it
its index and, where another writer stored the same task ids first, fresh ids (see
`toolweave._turn_ids`), so that no `$N` ever names two values. Runs on one `Session`
take turns. What is stored is redacted (`toolweave._redact`): a later turn sees
``[redacted]`` where a secret was. The database is private (0600, `toolweave._files`).

```python
chat = agent.session()                  # a new conversation, saved in SQLite
await chat.run("What is the population of France?")
await chat.run("And twice that?")       # the plan can use $1 from the first turn
agent.session(chat.id)                  # later, elsewhere: the same conversation
```
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolweave._session_store import SessionInfo, SessionStore, Turn
from toolweave._session_store import default_path as default_path  # where it always was
from toolweave.errors import UserError
from toolweave.fetcher import TaskResult, TaskState
from toolweave.models import Usage

if TYPE_CHECKING:
    from toolweave._result import RunResult
    from toolweave.agent import Agent, RunEvents

__all__ = ["Session", "SessionInfo", "SessionStore", "Turn", "TurnContext"]


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
        self, agent: Agent, store: SessionStore, session_id: str, *, max_history_tokens: int
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
