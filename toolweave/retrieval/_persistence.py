"""Saving a `ToolIndex` to a directory and loading it back (the format is `_store`'s).

Saving compacts: only live slots are written, in slot order. Loading puts each saved
tool in a slot as a `Placeholder` until `Retriever.sync` adopts the live tool of the
same name and content (or re-indexes a changed one), so that nothing unchanged is
embedded again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolweave.retrieval._index import ToolIndex
from toolweave.retrieval._store import Entry, Placeholder, read_index, write_index

__all__ = ["load_index", "save_index"]


def save_index(index: ToolIndex, examples: dict[str, list[str]], target: Path) -> None:
    """Write the live tools' entries and vectors, with their example questions."""
    named = index.live()
    entries = [
        Entry(
            name,
            index.keys[s],
            index.docs[s],
            index.tokens[s],
            index.families[s],
            examples.get(name, []),
        )
        for name, s in named
    ]
    live = [slot for _, slot in named]
    vectors = index.vectors.matrix[live] if live else np.zeros((0, index.embedder.dim))
    write_index(target, index.embedder, entries, vectors)


def load_index(index: ToolIndex, path: Path, examples: dict[str, list[str]]) -> bool:
    """Fill an empty index from `path`; whether it must be rebuilt instead.

    A saved tool's example questions join `examples` where it has none (those given
    to the retriever win). An index that is absent, broken, of another format or of
    another embedder is not read.
    """
    loaded = read_index(path, index.embedder)
    if loaded is None:
        return True
    entries, vectors = loaded
    for entry in entries:
        if entry.examples:
            examples.setdefault(entry.name, entry.examples)
    index.append(
        [Placeholder(e.name) for e in entries],  # type: ignore[misc]
        [e.doc for e in entries],
        [e.tokens for e in entries],
        vectors,
        [e.family for e in entries],
        [e.key for e in entries],
    )
    return False
