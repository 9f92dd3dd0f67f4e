"""An incremental BM25 index: add and remove documents without a rebuild.

Postings live per term as growable lists, turned into numpy arrays when a query needs
them; document frequencies and lengths are kept exact under adds and removes, so the
scores equal a fresh index's. Scoring a query is one vectorized pass per query term.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["BM25Index"]

FloatArray = npt.NDArray[np.float32]


class _Postings:
    __slots__ = ("_arrays", "slots", "tfs")

    def __init__(self) -> None:
        self.slots: list[int] = []
        self.tfs: list[int] = []
        self._arrays: tuple[npt.NDArray[np.int64], FloatArray] | None = None

    def append(self, slot: int, tf: int) -> None:
        self.slots.append(slot)
        self.tfs.append(tf)
        self._arrays = None

    def compact(self, alive: dict[int, Counter[str]]) -> None:
        keep = [(s, tf) for s, tf in zip(self.slots, self.tfs, strict=True) if s in alive]
        self.slots = [s for s, _ in keep]
        self.tfs = [tf for _, tf in keep]
        self._arrays = None

    def arrays(self) -> tuple[npt.NDArray[np.int64], FloatArray]:
        if self._arrays is None:
            self._arrays = (np.asarray(self.slots, np.int64), np.asarray(self.tfs, np.float32))
        return self._arrays


class BM25Index:
    """Okapi BM25 over documents identified by integer slots.

    Args:
        k1: Term frequency saturation.
        b: Length normalization.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._postings: dict[str, _Postings] = {}
        self._df: Counter[str] = Counter()
        self._terms: dict[int, Counter[str]] = {}
        self._lengths = np.zeros(0, np.float32)
        self._total = 0

    def __len__(self) -> int:
        return len(self._terms)

    def add(self, slot: int, tokens: Sequence[str]) -> None:
        """Index a document under `slot` (a slot is never reused while alive)."""
        if slot in self._terms:
            raise ValueError(f"slot {slot} is already indexed")
        counts = Counter(tokens)
        self._terms[slot] = counts
        for term, tf in counts.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = _Postings()
            postings.append(slot, tf)
            self._df[term] += 1
        if slot >= len(self._lengths):
            grown = np.zeros(max(slot + 1, 2 * len(self._lengths), 64), np.float32)
            grown[: len(self._lengths)] = self._lengths
            self._lengths = grown
        self._lengths[slot] = len(tokens)
        self._total += len(tokens)

    def remove(self, slot: int) -> None:
        """Forget a document; its postings stay but never score again."""
        counts = self._terms.pop(slot)
        for term in counts:
            self._df[term] -= 1
        self._total -= int(self._lengths[slot])
        self._lengths[slot] = 0

    def scores(self, tokens: Sequence[str], size: int) -> FloatArray:
        """BM25 score of every slot below `size` for a tokenized query (0 if no match)."""
        out = np.zeros(size, np.float32)
        n = len(self._terms)
        if not n:
            return out
        avgdl = max(self._total / n, 1e-9)
        lengths = self._lengths
        for term, qtf in Counter(tokens).items():
            postings = self._postings.get(term)
            df = self._df.get(term, 0)
            if postings is None or df <= 0:
                continue
            if len(postings.slots) != df:  # removed documents left postings: drop them
                postings.compact(self._terms)
            slots, tfs = postings.arrays()
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = tfs + self.k1 * (1.0 - self.b + self.b * lengths[slots] / avgdl)
            out[slots] += qtf * idf * tfs * (self.k1 + 1.0) / norm
        return out
