"""Fusion: the lexical and dense sides' scores combined, per-intent rankings merged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from toolweave.tools import Tool

__all__ = ["ScoredTool", "fuse", "merge", "top", "zscore"]


@dataclass(frozen=True, slots=True)
class ScoredTool:
    """A retrieved tool with the parts of its score.

    Attributes:
        tool: The tool.
        fused: The score it was ranked by (the fused score in hybrid mode).
        bm25: Its BM25 score for the (sub-)query that found it.
        dense: Its cosine similarity to that query.
        query: The (sub-)query that found it.
    """

    tool: Tool
    fused: float
    bm25: float
    dense: float
    query: str


def fuse(
    bm25: np.ndarray,
    dense: np.ndarray,
    *,
    method: Literal["zscore", "rrf"],
    weights: tuple[float, float],
    rrf_k: int,
) -> np.ndarray:
    """Each row's BM25 and dense scores over the candidate pool, fused into one.

    ``zscore``: each side standardized over the pool, then added with `weights`, so a
    side counts by how much its best matches stand out; ``rrf``: reciprocal ranks.
    """
    rows = []
    for b, d in zip(bm25, dense, strict=True):
        if method == "rrf":
            rows.append(weights[0] / (rrf_k + 1 + _ranks(b)) + weights[1] / (rrf_k + 1 + _ranks(d)))
        else:
            rows.append(weights[0] * zscore(b) + weights[1] * zscore(d))
    return np.stack(rows)


def _ranks(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def zscore(scores: np.ndarray) -> np.ndarray:
    """Scores standardized (zero mean, unit spread); all zero when they do not vary."""
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 1e-9 else np.zeros_like(scores)


def top(scores: np.ndarray, k: int, *, positive: bool) -> np.ndarray:
    """The indices of the `k` best scores (only positive ones if `positive`), best first."""
    candidates = np.flatnonzero(scores > 0) if positive else np.arange(len(scores))
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def merge(rankings: Sequence[list[ScoredTool]], k: int) -> list[ScoredTool]:
    """Round-robin over the rankings, the whole query's first.

    Each intent keeps its best tools; duplicates keep their first, best place. The
    whole query goes first because it ranks better at 1 than any single intent.
    """
    out: list[ScoredTool] = []
    seen: set[str] = set()
    for depth in range(k):
        for ranking in rankings:
            if depth < len(ranking) and ranking[depth].tool.name not in seen:
                seen.add(ranking[depth].tool.name)
                out.append(ranking[depth])
                if len(out) == k:
                    return out
    return out
