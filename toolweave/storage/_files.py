"""Private state files: 0600 files in 0700 directories, and where they live.

What toolweave keeps (the run log, conversations, the REPL's history, what a retriever
learned) holds requests, answers and tool results: other users of the machine have no
business reading it. Files are created with ``os.open(..., 0o600)`` (the umask can only
take bits away), so a file is never readable by others, not even for a moment; SQLite
gives its ``-journal``, ``-wal`` and ``-shm`` files the database's own mode. A file an
older version made too open is tightened when toolweave opens it again (if it is the
user's own); so is toolweave's own state directory, but never a directory that the
user named (``TOOLWEAVE_STATE``, a database path), which may be shared on purpose.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["open_private", "private_dir", "private_file", "state_dir", "tighten"]

FILE_MODE = 0o600
DIR_MODE = 0o700
_SQLITE_SIBLINGS = ("-journal", "-wal", "-shm")


def state_dir() -> Path:
    """Where toolweave keeps state: ``$TOOLWEAVE_STATE``, else the XDG state directory."""
    if env := os.environ.get("TOOLWEAVE_STATE"):
        return Path(env)
    return _default_state_dir()


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "toolweave"


def tighten(path: Path, mode: int) -> None:
    """Take away the group's and others' bits from a file or directory of the user's."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: no mode bits for others to read by
        return
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == getuid() and stat.S_IMODE(info.st_mode) & ~mode & 0o777:
        os.chmod(path, stat.S_IMODE(info.st_mode) & mode)


def private_dir(path: Path) -> Path:
    """Make directory `path` (0700) if it is missing; its parents get the usual mode.

    An existing directory is left as it is, unless it is toolweave's own default
    state directory, which is tightened to 0700.
    """
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.absolute() == _default_state_dir().absolute():
        tighten(path, DIR_MODE)
    return path


def private_file(path: Path, *, sqlite: bool = False) -> Path:
    """Make file `path` (0600, empty) if it is missing, in a `private_dir`; else tighten it.

    With `sqlite`, the database's journal files that are lying there are tightened too.
    """
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        tighten(path, FILE_MODE)
    for suffix in _SQLITE_SIBLINGS if sqlite else ():
        tighten(path.with_name(path.name + suffix), FILE_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """`os.open` of a file that is created 0600 (in a `private_dir`), tightened if it exists.

    The descriptor is binary (``O_BINARY`` where that exists): wrap it with `os.fdopen`.
    """
    private_dir(path.parent)
    fd = os.open(path, flags | os.O_CREAT | getattr(os, "O_BINARY", 0), FILE_MODE)
    tighten(path, FILE_MODE)
    return fd
