"""State files are private: 0600 files in a 0700 directory (issue 29, item 10)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from toolweave import Agent, SessionStore, ToolRegistry, tool
from toolweave.cli._runlog import RunLog, state_dir
from toolweave.models.testing import ScriptedModel
from toolweave.retrieval._journal import append_lessons, rewrite_journal
from toolweave.retrieval._store import Entry, write_index
from toolweave.session import default_path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _open_umask() -> Iterator[None]:
    """The common umask (022): what makes files 0644 unless toolweave asks otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default state directory, under a fresh XDG_STATE_HOME."""
    monkeypatch.delenv("TOOLWEAVE_STATE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "toolweave"


@tool(read_only=True)
def echo(text: str) -> str:
    """Return the text."""
    return text


def _result() -> object:
    model = ScriptedModel(['1. echo(text="hi")\njoin()\n<END_OF_PLAN>', "Action: Finish(hi)"])
    return Agent(model, ToolRegistry([echo])).run_sync("say hi")


def test_run_log_and_sessions_are_private(xdg: Path) -> None:
    assert state_dir() == xdg
    log = RunLog()
    log.add(_result(), "scripted")  # type: ignore[arg-type]
    store = SessionStore()
    store.create()
    assert default_path() == xdg / "sessions.sqlite"
    assert _mode(xdg) == 0o700
    assert _mode(xdg / "runs.sqlite") == 0o600
    assert _mode(xdg / "sessions.sqlite") == 0o600
    # whatever else SQLite left next to them (a journal) is private too
    assert {p.name: _mode(p) for p in xdg.iterdir()} == {p.name: 0o600 for p in xdg.iterdir()}


async def test_a_journal_written_mid_transaction_is_private(xdg: Path) -> None:
    """SQLite gives its -journal the database's mode: check it while it exists."""
    store = SessionStore()
    session_id = store.create()
    store._db.execute("begin immediate")
    store._db.execute("update sessions set title = 'x' where id = ?", (session_id,))
    journal = xdg / "sessions.sqlite-journal"
    assert journal.exists()
    assert _mode(journal) == 0o600
    store._db.execute("rollback")
    chat = Agent(ScriptedModel([]), ToolRegistry([echo])).session(session_id, store=store)
    assert chat.turns == []


def test_files_and_the_directory_made_by_older_versions_are_tightened(xdg: Path) -> None:
    xdg.mkdir(parents=True, mode=0o755)
    os.chmod(xdg, 0o755)
    for name in ("runs.sqlite", "sessions.sqlite", "runs.sqlite-wal", "history"):
        (xdg / name).write_bytes(b"")
        os.chmod(xdg / name, 0o644)
    from toolweave.cli._repl import history_file

    RunLog()
    SessionStore()
    history_file()
    assert _mode(xdg) == 0o700
    for name in ("runs.sqlite", "sessions.sqlite", "runs.sqlite-wal", "history"):
        assert _mode(xdg / name) == 0o600, name


def test_a_directory_the_user_named_is_not_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TOOLWEAVE_STATE=/srv/shared: toolweave's files are private, the directory is theirs."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    monkeypatch.setenv("TOOLWEAVE_STATE", str(shared))
    RunLog()
    SessionStore()
    assert _mode(shared) == 0o755
    assert _mode(shared / "runs.sqlite") == 0o600
    assert _mode(shared / "sessions.sqlite") == 0o600
    # one that does not exist yet is made private
    monkeypatch.setenv("TOOLWEAVE_STATE", str(tmp_path / "new" / "state"))
    RunLog()
    assert _mode(tmp_path / "new" / "state") == 0o700


def test_repl_history_is_private_and_redacted(xdg: Path) -> None:
    from toolweave.cli._repl import history_file

    history = history_file()
    history.store_string("login with password=hunter2pw")
    path = xdg / "history"
    assert _mode(xdg) == 0o700
    assert _mode(path) == 0o600
    assert "hunter2pw" not in path.read_text()


class _Tiny:
    name = "tiny"
    dim = 2

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 2), dtype=np.float32)


def test_retriever_index_and_journal_are_private(tmp_path: Path) -> None:
    target = tmp_path / "index"
    entry = Entry("echo", "k", "doc", ["doc"], None, [])
    write_index(target, _Tiny(), [entry], np.ones((1, 2), dtype=np.float32))
    append_lessons(target, [{"learn": "private request", "tools": ["echo"]}])
    assert _mode(target) == 0o700
    for path in target.iterdir():
        assert _mode(path) == 0o600, path.name
    rewrite_journal(target, {"echo": ["another private request"]})
    for path in target.iterdir():
        assert _mode(path) == 0o600, path.name
