"""A dense vector index with incremental add and remove: exact, or HNSW when large."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["VectorIndex", "hnswlib_module"]

FloatArray = npt.NDArray[np.float32]


class VectorIndex:
    """Unit vectors by integer slot; inner-product (cosine) search.

    Brute force with numpy below `hnsw_threshold` vectors (exact; a few ms for tens
    of thousands), HNSW (hnswlib, approximate, sub-millisecond) at or above it. Without
    hnswlib installed (the ``scale`` extra), large sets are searched by brute force too:
    exact, only slower.

    Args:
        dim: Vector size.
        hnsw_threshold: From this many vectors on, search an HNSW graph.
    """

    def __init__(self, dim: int, *, hnsw_threshold: int = 50_000) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self._matrix = np.zeros((0, dim), np.float32)
        self._alive = np.zeros(0, bool)
        self._count = 0  # slots used, alive or not
        self._hnsw: Any = None

    @property
    def size(self) -> int:
        """The number of slots in use (alive or removed)."""
        return self._count

    @property
    def matrix(self) -> FloatArray:
        """The vectors of the slots in use (removed ones are zero)."""
        return self._matrix[: self._count]

    def add(self, slot: int, vectors: FloatArray) -> None:
        """Store vectors at `slot`, `slot + 1`, ...; slots must come in order."""
        n = len(vectors)
        if slot != self._count:
            raise ValueError(f"vectors must be added at slot {self._count}, not {slot}")
        if self._count + n > len(self._matrix):
            capacity = max(self._count + n, 2 * len(self._matrix), 64)
            grown = np.zeros((capacity, self.dim), np.float32)
            grown[: self._count] = self._matrix[: self._count]
            alive = np.zeros(capacity, bool)
            alive[: self._count] = self._alive[: self._count]
            self._matrix, self._alive = grown, alive
        self._matrix[slot : slot + n] = vectors
        self._alive[slot : slot + n] = True
        self._count += n
        if self._hnsw is not None:
            self._hnsw_add(slot, vectors)

    def remove(self, slot: int) -> None:
        """Remove the vector at `slot`."""
        self._alive[slot] = False
        self._matrix[slot] = 0.0
        if self._hnsw is not None:
            self._hnsw.mark_deleted(slot)

    def search(self, query: FloatArray, k: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """The `k` nearest alive slots and their cosine similarities, best first."""
        alive = int(self._alive[: self._count].sum())
        k = min(k, alive)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if alive >= self.hnsw_threshold and hnswlib_module() is not None:
            return self._search_hnsw(query, k)
        scores = self.matrix @ query
        scores[~self._alive[: self._count]] = -np.inf
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return top.astype(np.int64), scores[top]

    def search_many(self, queries: FloatArray, k: int) -> list[npt.NDArray[np.int64]]:
        """The `k` nearest alive slots of each query, best first (one matrix product)."""
        alive = int(self._alive[: self._count].sum())
        k = min(k, alive)
        if k <= 0:
            return [np.zeros(0, np.int64) for _ in queries]
        if alive >= self.hnsw_threshold and hnswlib_module() is not None:
            return [self._search_hnsw(q, k)[0] for q in queries]
        scores = self.matrix @ queries.T
        scores[~self._alive[: self._count]] = -np.inf
        out = []
        for column in scores.T:
            top = np.argpartition(-column, k - 1)[:k]
            out.append(top[np.argsort(-column[top])].astype(np.int64))
        return out

    def scores(self, query: FloatArray) -> FloatArray:
        """Cosine similarity of every slot in use (exact)."""
        return self.matrix @ query

    def _search_hnsw(self, query: FloatArray, k: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        if self._hnsw is None:
            index = hnswlib_module().Index(space="ip", dim=self.dim)
            index.init_index(max_elements=max(2 * self._count, 1024), ef_construction=200, M=16)
            index.set_ef(max(64, 2 * k))
            self._hnsw = index
            self._hnsw_add(0, self.matrix)
            for slot in np.flatnonzero(~self._alive[: self._count]):
                index.mark_deleted(int(slot))
        labels, distances = self._hnsw.knn_query(query, k=k)
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)

    def _hnsw_add(self, slot: int, vectors: FloatArray) -> None:
        index = self._hnsw
        assert index is not None
        needed = slot + len(vectors)
        if needed > index.get_max_elements():
            index.resize_index(2 * needed)
        index.add_items(vectors, np.arange(slot, needed))


@functools.cache
def hnswlib_module() -> Any:
    """Hnswlib if it is installed (the ``scale`` extra), else None."""
    try:
        import hnswlib
    except ImportError:
        return None
    return hnswlib
