"""`ResumeLedger`: where each pause is claimed, so that it resumes once."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from toolweave.errors import UserError
from toolweave.storage import private_file, state_dir

__all__ = ["LedgerSlot", "ResumeLedger", "default_ledger_path"]


def default_ledger_path() -> Path:
    """``resumes.sqlite`` in the state directory (`toolweave.storage.state_dir`)."""
    return state_dir() / "resumes.sqlite"


class ResumeLedger:
    """The pauses that were resumed: each can be claimed once.

    Claims are rows of a SQLite table whose key is the pause id, so that two processes
    that share the file (two workers on one machine) cannot both resume one pause.
    Workers on several machines need a ledger they share: any object with this
    `claim` method will do (`Agent(resume_ledger=...)`).

    Args:
        path: The database file, or ``":memory:"`` (this process only);
            `default_ledger_path()` by default.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        target = default_ledger_path() if path is None else path
        self.path = str(target)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                private_file(Path(self.path), sqlite=True)  # 0600 before SQLite writes to it
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            with self._lock, self._db:
                self._db.execute(
                    "create table if not exists resumes "
                    "(pause_id text primary key, run_id text not null, claimed real not null)"
                )
        except (OSError, sqlite3.Error) as exc:
            raise UserError(
                f"cannot keep the resume ledger at {self.path}: {exc}; give the Agent a "
                "resume_ledger= elsewhere (TOOLWEAVE_STATE moves the default)"
            ) from exc

    def claim(self, pause_id: str, run_id: str) -> bool:
        """Claim a pause for its resume: ``False`` if it was claimed before."""
        row = (_text(pause_id), _text(run_id), time.time())
        try:
            with self._lock, self._db:
                self._db.execute("insert into resumes values (?, ?, ?)", row)
        except sqlite3.IntegrityError:
            return False
        return True

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _text(value: str) -> str:
    """`value` as text SQLite can store: a lone surrogate (from edited JSON) escaped."""
    return value.encode("utf-8", "backslashreplace").decode()


class LedgerSlot:
    """An agent's ledger: the one it was given, or the user's, opened on first use.

    Args:
        given: The ledger to use (the caller's: never closed here).
    """

    def __init__(self, given: ResumeLedger | None) -> None:
        self._ledger = given
        self._own = given is None

    def get(self) -> ResumeLedger:
        """The ledger (the state directory's is opened now, if it is the one)."""
        if self._ledger is None:
            self._ledger = ResumeLedger()
        return self._ledger

    def close(self) -> None:
        """Close the ledger opened here, if one was."""
        if self._ledger is not None and self._own:
            self._ledger.close()
            self._ledger = None
