"""The retriever's index on disk: one JSON file of entries, one numpy file of vectors.

An index written with another format or another embedder is not read (the retriever
rebuilds it); a loaded entry stands for its tool as a `Placeholder` until the live
tool of the same name and content adopts its slot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from toolweave.tools._embedders import Embedder

__all__ = ["Entry", "Placeholder", "read_index", "write_index"]

FORMAT = 3
READABLE = (2, 3)  # format 3 added the learned requests


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index keeps of one tool."""

    name: str
    key: str  # the content fingerprint, family and example questions it was built from
    doc: str
    tokens: list[str]
    family: str | None
    examples: list[str]
    learned: list[str] = field(default_factory=list)  # requests it served (`learn`)


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A loaded entry until `Retriever.sync` adopts the live tool of the same name."""

    name: str


def write_index(
    target: Path, embedder: Embedder, entries: list[Entry], vectors: np.ndarray
) -> None:
    """Write entries and their vectors (one row each, in order) to a directory."""
    target.mkdir(parents=True, exist_ok=True)
    rows = [{**asdict(e), "tokens": " ".join(e.tokens)} for e in entries]
    meta = {"format": FORMAT, "embedder": embedder.name, "dim": embedder.dim, "entries": rows}
    np.save(target / "vectors.npy", vectors.astype(np.float32))
    (target / "index.json").write_text(json.dumps(meta, ensure_ascii=False))


def read_index(path: Path, embedder: Embedder) -> tuple[list[Entry], np.ndarray] | None:
    """The entries and vectors in a directory; `None` if absent or not for `embedder`."""
    meta_file, vector_file = path / "index.json", path / "vectors.npy"
    if not meta_file.is_file() or not vector_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    if meta.get("format") not in READABLE or meta.get("embedder") != embedder.name:
        return None
    entries = [Entry(**{**e, "tokens": e["tokens"].split()}) for e in meta["entries"]]
    return entries, np.load(vector_file)
