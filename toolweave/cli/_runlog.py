"""The run log: every REPL and CLI run, kept in SQLite under the user's state directory.

The database is private (0600 in a 0700 directory, see `toolweave.storage`) and what it
keeps is redacted by `toolweave.redaction`, the mechanism every sink shares.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolweave.redaction import redact_text, redact_value
from toolweave.result import RunResult
from toolweave.storage import private_file, state_dir

__all__ = ["LoggedRun", "RunLog", "state_dir"]

_SCHEMA = """
create table if not exists runs (
    run_id text primary key,
    created real not null,
    model text not null,
    request text not null,
    status text not null,
    answer text,
    wall_time real not null,
    prompt_tokens integer not null,
    completion_tokens integer not null,
    tasks integer not null,
    plans integer not null,
    result json not null
)
"""


@dataclass(frozen=True, slots=True)
class LoggedRun:
    """One row of the log."""

    run_id: str
    created: float
    model: str
    request: str
    status: str
    answer: str | None
    wall_time: float
    prompt_tokens: int
    completion_tokens: int
    tasks: int
    plans: int
    result: dict[str, Any]


class RunLog:
    """Append runs, list them, read one back.

    What is stored is redacted by default (`toolweave.redaction`): registered secrets and
    secret environment variables' values, the values of arguments and result fields
    whose names say they are credentials (``api_key``, ``token``, ``password``, ``pw``,
    ``key``, ...), and strings shaped like API keys, bearer tokens or URL passwords
    become ``[redacted]``. The file is created 0600 in a 0700 directory.

    Args:
        path: The database file; ``state_dir() / "runs.sqlite"`` by default.
        redact: Hide secrets as above; ``False`` stores everything verbatim. The
            ``TOOLWEAVE_LOG_REDACT=0`` environment variable turns it off as well.
    """

    def __init__(self, path: str | Path | None = None, *, redact: bool | None = None) -> None:
        if redact is None:
            redact = os.environ.get("TOOLWEAVE_LOG_REDACT", "1").lower() not in ("0", "false", "no")
        self.redact = redact
        self.path = Path(path) if path is not None else state_dir() / "runs.sqlite"
        private_file(self.path, sqlite=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def add(self, result: RunResult, model: str) -> None:
        """Record a run (its whole `RunResult.to_dict()`), replacing one with its id."""
        usage = result.usage
        data = result.to_dict()
        request, answer = result.request, result.answer
        if self.redact:
            data = redact_value(data)
            request = redact_text(request)
            answer = redact_text(answer) if answer is not None else None
        with self._connect() as db:
            db.execute(
                "insert or replace into runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result.run_id,
                    time.time(),
                    model,
                    request,
                    result.status,
                    answer,
                    result.wall_time,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    len(result.tasks),
                    len(result.plans),
                    json.dumps(data, ensure_ascii=False, default=str),
                ),
            )

    def recent(self, limit: int = 20) -> list[LoggedRun]:
        """The latest runs, newest first."""
        with self._connect() as db:
            rows = db.execute("select * from runs order by created desc limit ?", (limit,))
            return [_row(r) for r in rows.fetchall()]

    def get(self, run_id: str) -> LoggedRun | None:
        """A run by id, or by a unique prefix of it."""
        with self._connect() as db:
            rows = db.execute(
                "select * from runs where run_id like ? order by created desc limit 2",
                (run_id.replace("%", "") + "%",),
            ).fetchall()
        return _row(rows[0]) if len(rows) == 1 else None


def _row(row: tuple[Any, ...]) -> LoggedRun:
    *columns, data = row  # the result JSON is the last column
    return LoggedRun(*columns, result=json.loads(data))  # type: ignore[misc]
