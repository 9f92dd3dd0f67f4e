"""What a retriever learned, kept as a journal next to its index.

One JSON line per lesson, appended: ``{"learn": request, "tools": [names]}``, or
``{"forget": [names]}`` (``null``: every tool). Appending a line is all that `learn`
writes, so it costs no index rewrite; processes that share an index lose none of each
other's lessons; and the lessons of a tool missing from one load (a server down) are
there when it returns. Replaying the lines in order gives each tool's requests, the
most recent last. The journal is private (0600; a directory made here is 0700): it
holds what users asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from toolweave.storage import open_private

__all__ = ["JOURNAL", "Lesson", "append_lessons", "remember", "replay_journal", "rewrite_journal"]

JOURNAL = "learned.jsonl"

Lesson = dict[str, object]


def remember(learned: dict[str, list[str]], name: str, request: str, limit: int) -> bool:
    """Make `request` tool `name`'s most recent, keeping `limit`; whether that changed it."""
    known = learned.get(name, [])
    if not limit or (known and known[-1] == request):
        return False
    learned[name] = [*(k for k in known if k != request), request][-limit:]
    return True


def append_lessons(directory: Path, lessons: Iterable[Lesson]) -> None:
    """Add lessons to the journal in `directory`."""
    text = "".join(json.dumps(lesson, ensure_ascii=False) + "\n" for lesson in lessons)
    if text:
        fd = open_private(directory / JOURNAL, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "a", encoding="utf-8") as journal:
            journal.write(text)


def rewrite_journal(directory: Path, learned: Mapping[str, list[str]]) -> None:
    """Replace the journal in `directory` with one that replays to `learned`."""
    written = directory / f".{JOURNAL}.{os.getpid()}"
    with os.fdopen(open_private(written, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        out.write(
            "".join(
                json.dumps({"learn": request, "tools": [name]}, ensure_ascii=False) + "\n"
                for name, requests in learned.items()
                for request in requests
            )
        )
    os.replace(written, directory / JOURNAL)


def replay_journal(directory: Path, limit: int) -> dict[str, list[str]]:
    """Each tool's learned requests, the most recent last, from the journal in `directory`."""
    learned: dict[str, list[str]] = {}
    try:
        lines = (directory / JOURNAL).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return learned
    for line in lines:
        try:
            lesson = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
        if not isinstance(lesson, dict):
            continue
        if "forget" in lesson:
            names = lesson["forget"]
            if names is None:
                learned.clear()
            for name in names if isinstance(names, list) else ():
                learned.pop(str(name), None)
        elif isinstance(request := lesson.get("learn"), str) and isinstance(
            tools := lesson.get("tools"), list
        ):
            for name in tools:
                remember(learned, str(name), request, limit)
    return learned
