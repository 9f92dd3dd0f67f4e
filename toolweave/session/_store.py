"""Where conversations are kept: SQLite, shared safely by any number of writers.

A turn is appended in one write transaction (``BEGIN IMMEDIATE``) that gives it its
index and, where another writer stored the same task ids first, fresh ids (see
`toolweave.session._numbering`); reading the turns applies the same numbering, so a database
written before that was done reads with each id once. What is stored is redacted
(`toolweave.redaction`), and the file is private (0600 in a 0700 directory,
`toolweave.storage`).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from toolweave.errors import StateError
from toolweave.fetcher import TaskResult, task_from_dict, task_to_dict
from toolweave.models import Usage
from toolweave.planner._prompts import observation
from toolweave.redaction import redact_text, redact_value
from toolweave.session._numbering import Numbering, renumbered
from toolweave.storage import private_file, state_dir

__all__ = ["SessionInfo", "SessionStore", "Turn", "default_path"]

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
    return state_dir() / "sessions.sqlite"


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
class SessionInfo:
    """A stored conversation, as `SessionStore.list` shows it."""

    id: str
    title: str
    turns: int
    created: float
    updated: float


class SessionStore:
    """Conversations in SQLite, shared safely by any number of writers.

    Args:
        path: The database file, or ``":memory:"``; `default_path()` by default. A
            file is created 0600 (in a 0700 directory, when it makes one).
        redact: Hide secrets in what is stored (`toolweave.redaction`); ``False``
            keeps requests, answers and values verbatim.
        timeout: Seconds to wait for another writer before a `StateError`.
    """

    def __init__(
        self, path: str | Path | None = None, *, redact: bool = True, timeout: float = 10.0
    ) -> None:
        target = default_path() if path is None else path
        if str(target) != ":memory:":
            private_file(Path(target), sqlite=True)
        self.path = str(target)
        self.redact = redact
        # autocommit: every write is an explicit transaction (`_write`)
        self._db = sqlite3.connect(
            self.path, timeout=timeout, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the database's write lock from its start.

        ``BEGIN IMMEDIATE`` waits (up to the timeout) for other writers, so what is
        read inside it (the turns so far) is what the write lands after.

        Raises:
            StateError: Another writer held the database for longer than the timeout.
        """
        with self._lock:
            try:
                self._db.execute("begin immediate")
            except sqlite3.OperationalError as exc:  # another writer held it past the timeout
                raise StateError(f"the conversation store {self.path} is busy: {exc}") from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def create(self, title: str = "") -> str:
        """A new, empty conversation; returns its id."""
        sid = uuid.uuid4().hex[:12]
        now = time.time()
        with self._write() as db:
            db.execute("insert into sessions values (?, ?, ?, ?)", (sid, now, now, title))
        return sid

    def exists(self, session_id: str) -> bool:
        """Whether a conversation has this id."""
        with self._lock:
            row = self._db.execute("select 1 from sessions where id = ?", (session_id,))
            return row.fetchone() is not None

    def add(self, session_id: str, turn: Turn) -> Turn:
        """Append a turn to a conversation; returns it as stored.

        In one write transaction: the turn gets the next index, and if another writer
        stored a turn whose task ids meet this one's, this turn's tasks get fresh ids
        (their refs to each other follow; the run's own `RunResult` keeps the ids it
        ran with). What is stored is redacted, unless the store was made with
        ``redact=False``.

        Raises:
            StateError: Another writer held the database for longer than the timeout.
        """
        request, answer = turn.request, turn.answer
        if self.redact:
            request = redact_text(request)
            answer = None if answer is None else redact_text(answer)
        with self._write() as db:
            numbering = Numbering()
            for (tasks,) in db.execute(
                "select tasks from turns where session_id = ? order by idx", (session_id,)
            ):
                numbering.place(int(t["id"]) for t in json.loads(tasks))
            mapping = numbering.place(r.task.id for r in turn.results)
            stored = [task_to_dict(r) for r in renumbered(turn.results, mapping)]
            if self.redact:
                stored = redact_value(stored)
            (idx,) = db.execute(
                "select coalesce(max(idx) + 1, 0) from turns where session_id = ?", (session_id,)
            ).fetchone()
            db.execute(
                "insert into turns values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    idx,
                    turn.created,
                    turn.run_id,
                    request,
                    answer,
                    turn.usage.prompt_tokens,
                    turn.usage.completion_tokens,
                    turn.cost,
                    json.dumps(stored, ensure_ascii=False),
                ),
            )
            db.execute(
                "update sessions set updated = ?, title = case when title = '' then ? "
                "else title end where id = ?",
                (turn.created, request[:80], session_id),
            )
        results = [task_from_dict(t) for t in stored]
        return Turn(request, answer, turn.run_id, results, turn.usage, turn.cost, turn.created)

    def turns(self, session_id: str) -> list[Turn]:
        """A conversation's turns, oldest first, each task id held by one task.

        A database written before turns were numbered on append may hold an id in
        two turns: the later turn's tasks are read with fresh ids, as `add` would
        have stored them.
        """
        with self._lock:
            rows = self._db.execute(
                "select created, run_id, request, answer, prompt_tokens, completion_tokens, "
                "cost, tasks from turns where session_id = ? order by idx",
                (session_id,),
            ).fetchall()
        numbering = Numbering()
        turns = []
        for created, run_id, request, answer, prompt, completion, cost, tasks in rows:
            results = [task_from_dict(t) for t in json.loads(tasks)]
            results = renumbered(results, numbering.place(r.task.id for r in results))
            usage = Usage(prompt, completion)
            turns.append(Turn(request, answer, run_id, results, usage, cost, created))
        return turns

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
