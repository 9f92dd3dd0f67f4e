"""Conversations: earlier turns carried into the next run, kept in SQLite.

A turn keeps the request, the answer and, compactly, the values its tasks produced.
The next run's planner sees them (the requests and answers as a preamble, the values as
earlier results it may name with ``$N``: task ids go on across turns), so a follow-up
("and Italy?") can refer to the conversation and reuse a value without calling again.
What the planner sees is bounded by a token budget: the oldest turns go first.

```python
chat = agent.session()                  # a new conversation, saved in SQLite
await chat.run("What is the population of France?")
await chat.run("And twice that?")       # the plan can use $1 from the first turn
agent.session(chat.id)                  # later, elsewhere: the same conversation
```
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolweave._state import task_from_dict, task_to_dict
from toolweave.fetcher import TaskResult, TaskState
from toolweave.models import Usage
from toolweave.planner._prompts import observation

if TYPE_CHECKING:
    from toolweave._result import RunResult
    from toolweave.agent import Agent, RunEvents

__all__ = ["Session", "SessionInfo", "SessionStore", "Turn", "TurnContext"]

_SCHEMA = """
create table if not exists sessions (
    id text primary key,
    created real not null,
    updated real not null,
    title text not null
);
create table if not exists turns (
    session_id text not null references sessions(id),
    idx integer not null,
    created real not null,
    run_id text not null,
    request text not null,
    answer text,
    prompt_tokens integer not null,
    completion_tokens integer not null,
    cost real not null,
    tasks json not null,
    primary key (session_id, idx)
);
"""


def default_path() -> Path:
    """``$TOOLWEAVE_STATE/sessions.sqlite``, else under the XDG state directory."""
    if env := os.environ.get("TOOLWEAVE_STATE"):
        return Path(env) / "sessions.sqlite"
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "toolweave" / "sessions.sqlite"


@dataclass(slots=True)
class Turn:
    """One request of a conversation and what came of it.

    Attributes:
        request: What was asked.
        answer: The answer.
        run_id: The run that answered it.
        results: The tasks that succeeded, with their values.
        usage: The run's tokens.
        cost: The run's cost.
        created: When it was recorded (`time.time()`).
    """

    request: str
    answer: str | None
    run_id: str
    results: list[TaskResult] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    created: float = field(default_factory=time.time)

    def tokens(self) -> int:
        """About how many prompt tokens the turn takes (four characters a token)."""
        text = f"{self.request} {self.answer}" + "".join(observation(r) for r in self.results)
        return math.ceil(len(text) / 4)


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What a run takes from its conversation: a preamble, earlier results, their values.

    Only the kept turns' values are known, and new task ids go on after them. A turn
    left out once never comes back (every later context keeps a newer suffix that it
    did not fit in), so ids that start over after it never meet its own.
    """

    preamble: str = ""
    history: tuple[TaskResult, ...] = ()
    values: Mapping[int, object] = field(default_factory=dict)

    def framed(self, request: str) -> str:
        """The request as the planner and the joiner read it: after the conversation."""
        return f"{self.preamble}\n\nThe new question: {request}" if self.preamble else request


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A stored conversation, as `SessionStore.list` shows it."""

    id: str
    title: str
    turns: int
    created: float
    updated: float


class SessionStore:
    """Conversations in SQLite.

    Args:
        path: The database file, or ``":memory:"``; `default_path()` by default.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        target = default_path() if path is None else path
        if str(target) != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(target)
        self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def create(self, title: str = "") -> str:
        """A new, empty conversation; returns its id."""
        sid = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock, self._db:
            self._db.execute("insert into sessions values (?, ?, ?, ?)", (sid, now, now, title))
        return sid

    def exists(self, session_id: str) -> bool:
        """Whether a conversation has this id."""
        with self._lock:
            row = self._db.execute("select 1 from sessions where id = ?", (session_id,))
            return row.fetchone() is not None

    def add(self, session_id: str, turn: Turn) -> None:
        """Append a turn to a conversation."""
        tasks = json.dumps([task_to_dict(r) for r in turn.results], ensure_ascii=False)
        with self._lock, self._db:
            (count,) = self._db.execute(
                "select count(*) from turns where session_id = ?", (session_id,)
            ).fetchone()
            self._db.execute(
                "insert into turns values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    count,
                    turn.created,
                    turn.run_id,
                    turn.request,
                    turn.answer,
                    turn.usage.prompt_tokens,
                    turn.usage.completion_tokens,
                    turn.cost,
                    tasks,
                ),
            )
            self._db.execute(
                "update sessions set updated = ?, title = case when title = '' then ? "
                "else title end where id = ?",
                (turn.created, turn.request[:80], session_id),
            )

    def turns(self, session_id: str) -> list[Turn]:
        """A conversation's turns, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "select created, run_id, request, answer, prompt_tokens, completion_tokens, "
                "cost, tasks from turns where session_id = ? order by idx",
                (session_id,),
            ).fetchall()
        return [
            Turn(
                request,
                answer,
                run_id,
                [task_from_dict(t) for t in json.loads(tasks)],
                Usage(prompt, completion),
                cost,
                created,
            )
            for created, run_id, request, answer, prompt, completion, cost, tasks in rows
        ]

    def list(self, limit: int = 20) -> list[SessionInfo]:
        """The latest conversations, the most recently used first."""
        with self._lock:
            rows = self._db.execute(
                "select s.id, s.title, count(t.idx), s.created, s.updated from sessions s "
                "left join turns t on t.session_id = s.id group by s.id "
                "order by s.updated desc limit ?",
                (limit,),
            ).fetchall()
        return [SessionInfo(*row) for row in rows]


class Session:
    """A conversation with an agent: each run sees the earlier turns.

    Made by `Agent.session`; use `run` or `stream` as on the agent.

    Attributes:
        id: The conversation's id in its store.
        turns: Its turns so far, oldest first.
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

    async def run(self, request: str, *, output_type: type[Any] | None = None) -> RunResult:
        """`Agent.run` within the conversation; a finished run becomes a turn."""
        return await self.agent.run(request, output_type=output_type, session=self)

    def stream(self, request: str) -> AbstractAsyncContextManager[RunEvents]:
        """`Agent.stream` within the conversation."""
        return self.agent.stream(request, session=self)

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
        self.turns.append(turn)
        self.store.add(self.id, turn)

    def context(self) -> TurnContext:
        """The latest turns that fit the token budget, for the next run."""
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
