"""What a retriever learns from use: requests that tools served, and its journal.

A learned request joins the document of each tool that served it, after the tool's
example questions, so that requests phrased alike score higher for it on both sides
(its words for BM25, its meaning for the vectors). Each tool keeps its most recent
requests; `Learning` keeps them by tool, and the lessons not yet appended to the
journal beside the index (`_journal`), which replays them when the index loads.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from pathlib import Path

from toolweave.errors import UserError
from toolweave.retrieval._journal import (
    Lesson,
    append_lessons,
    remember,
    replay_journal,
    rewrite_journal,
)
from toolweave.tools import Tool

__all__ = ["Learning", "Served", "checked_log"]

Served = str | Tool | Iterable[str | Tool]
"""The tool (or its name) that served a request, or several."""


def checked_log(
    log: Iterable[tuple[str, Served]], indexed: Container[str]
) -> list[tuple[str, list[str]]]:
    """Each (request, tools) of a log, checked, as (request, tool names).

    The request's whitespace is collapsed; a tool named twice counts once.

    Raises:
        UserError: An empty request, or one that names no tools.
        KeyError: A tool that is not `indexed`.
    """
    entries = []
    for request, tools in log:
        if not isinstance(request, str) or not request.strip():
            raise UserError(f"learn needs a non-empty request, not {request!r}")
        served = [tools] if isinstance(tools, str | Tool) else list(tools)
        names = list(dict.fromkeys(t.name if isinstance(t, Tool) else t for t in served))
        if not names:
            raise UserError(f"learn needs the tools that served {request!r}; none given")
        for name in names:
            if name not in indexed:
                raise KeyError(f"no tool named {name!r} is indexed")
        entries.append((" ".join(request.split()), names))
    return entries


class Learning:
    """Requests learned by tool, and the lessons the journal at `path` does not hold yet.

    Args:
        path: The index's directory, where the journal is kept; `None` for none.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.learned: dict[str, list[str]] = {}  # requests that tools served, by tool
        self._unkept: list[Lesson] = []

    def load(self, limit: int) -> None:
        """Replay the journal at `path`, keeping `limit` requests a tool."""
        assert self.path is not None
        self.learned = replay_journal(self.path, limit)

    def teach(self, entries: Iterable[tuple[str, list[str]]], limit: int) -> list[str]:
        """Learn checked entries (`checked_log`) in order; the tools whose requests changed."""
        changed: dict[str, None] = {}
        for text, names in entries:
            taught = [n for n in names if remember(self.learned, n, text, limit)]
            if taught and self.path is not None:
                self._unkept.append({"learn": text, "tools": taught})
            changed.update(dict.fromkeys(taught))
        return list(changed)

    def forget(self, names: tuple[str, ...], indexed: Container[str]) -> list[str]:
        """Drop the named tools' requests (every tool's if none named); those that had some.

        Raises:
            KeyError: A name neither indexed nor learned.
        """
        for name in names:
            if name not in indexed and name not in self.learned:
                raise KeyError(f"no tool named {name!r} is indexed")
        dropped = [n for n in names or tuple(self.learned) if self.learned.pop(n, None)]
        if self.path is not None:
            self._unkept.append({"forget": list(names) if names else None})
        return dropped

    def keep(self) -> None:
        """Append the lessons not yet kept to the journal at `path`, if there is one."""
        if self.path is not None:
            append_lessons(self.path, self._unkept)
            self._unkept.clear()

    def copy_to(self, directory: Path) -> None:
        """Write a journal that replays to what is learned now into another directory."""
        rewrite_journal(directory, self.learned)
