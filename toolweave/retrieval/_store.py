"""The retriever's index on disk: one JSON file of entries, one numpy file of vectors.

An index written with another format or another embedder is not read (the retriever
rebuilds it); a loaded entry stands for its tool as a `Placeholder` until the live
tool of the same name and content adopts its slot. Each write puts the vectors in a
new file and then replaces ``index.json``, which names it, in one step: a reader sees
the old pair or the new one, never a mix; one that finds the pair broken rebuilds.
Its files are private (0600; a directory made here is 0700): the example questions
and learned requests in it can hold what users asked.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toolweave.retrieval._embedders import Embedder
from toolweave.storage import open_private, private_dir

__all__ = ["Entry", "Placeholder", "read_index", "write_index"]

FORMAT = 2


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index keeps of one tool."""

    name: str
    key: str  # the content fingerprint, family and example questions it was built from
    doc: str
    tokens: list[str]
    family: str | None
    examples: list[str]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A loaded entry until `Retriever.sync` adopts the live tool of the same name."""

    name: str


def write_index(
    target: Path, embedder: Embedder, entries: list[Entry], vectors: np.ndarray
) -> None:
    """Write entries and their vectors (one row each, in order) to a directory."""
    private_dir(target)
    name = f"vectors-{uuid.uuid4().hex[:12]}.npy"
    with os.fdopen(open_private(target / name, os.O_WRONLY | os.O_TRUNC), "wb") as out:
        np.save(out, vectors.astype(np.float32))
    rows = [{**asdict(e), "tokens": " ".join(e.tokens)} for e in entries]
    meta = {
        "format": FORMAT,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "vectors": name,
        "entries": rows,
    }
    written = target / f".{name}.json"
    with os.fdopen(open_private(written, os.O_WRONLY | os.O_TRUNC), "w") as out:
        out.write(json.dumps(meta, ensure_ascii=False))
    os.replace(written, target / "index.json")
    for old in target.glob("vectors*.npy"):
        if old.name != name:
            old.unlink(missing_ok=True)


def read_index(path: Path, embedder: Embedder) -> tuple[list[Entry], np.ndarray] | None:
    """The entries and vectors in a directory; `None` if absent, broken or not `embedder`'s."""
    meta_file = path / "index.json"
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT or meta.get("embedder") != embedder.name:
            return None
        vectors = np.load(path / meta.get("vectors", "vectors.npy"))
    except (OSError, ValueError):  # absent, cut short, or replaced while being read
        return None
    entries = [Entry(**{**e, "tokens": e["tokens"].split()}) for e in meta["entries"]]
    if vectors.shape != (len(entries), embedder.dim):
        return None
    return entries, vectors
