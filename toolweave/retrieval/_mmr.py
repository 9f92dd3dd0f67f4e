"""Diversified top k: maximal marginal relevance over the tools' document vectors.

Registries gathered from many providers hold near-duplicates: five "exchange rates"
APIs that differ only by who serves them. A plain top 5 can fill with them when the
request needs several different APIs. MMR picks greedily, each time the candidate
whose relevance, less its similarity to what is already picked, is highest; only
similarity above `threshold` counts, so that related but different tools (a forecast
and a hotel booking) are not pushed apart, only copies.

Copies come from different providers, so the stage works over families: two tools
of one family are never copies of each other, and a registry without families is left
as it is. Two documents that differ only by their provider's name embed less alike
than their content is (the name weighs a lot in a short document), so `near_copies`
takes the larger of the vectors' cosine and the overlap of the words other than the
family's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["diversify", "near_copies"]


def near_copies(
    vectors: npt.NDArray[np.float32],
    words: Sequence[frozenset[str]],
    families: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """Pairwise similarity of candidates that may be copies of one API.

    Only tools of two different families (providers) can be copies: two similar
    tools of one provider are different APIs (rates and historical rates), and the
    request may need both; a tool without a family is nobody's copy.

    Args:
        vectors: Each candidate's unit document vector.
        words: Each candidate's document words, its family's left out.
        families: Each candidate's family code; ``-1`` for none.

    Returns:
        For every pair of two families, the larger of the vectors' cosine and the
        words' Jaccard overlap; 0 for the other pairs.
    """
    known = families >= 0
    pairs = known[:, None] & known[None, :] & (families[:, None] != families[None, :])
    similarity = np.where(pairs, vectors @ vectors.T, 0.0).astype(np.float32)
    for i, j in zip(*np.nonzero(np.triu(pairs, 1)), strict=True):
        a, b = words[i], words[j]
        if a and b:
            overlap = len(a & b) / len(a | b)
            similarity[i, j] = similarity[j, i] = max(similarity[i, j], overlap)
    return similarity


def diversify(
    relevance: npt.NDArray[np.float32],
    similarity: npt.NDArray[np.float32],
    k: int,
    *,
    penalty: float = 3.0,
    threshold: float = 0.85,
) -> list[int]:
    """The order of `k` candidates picked by maximal marginal relevance.

    Args:
        relevance: Each candidate's relevance (standardized, best first or not).
        similarity: The candidates' pairwise similarity (see `near_copies`).
        k: How many to pick.
        penalty: Relevance (in standard deviations) taken off a candidate that is an
            exact copy of one already picked; scaled down linearly to nothing at
            `threshold`.
        threshold: Cosine similarity from which a candidate counts as a near-copy.

    Returns:
        Indices into `relevance`, in the order picked.
    """
    n = len(relevance)
    k = min(k, n)
    if k <= 0:
        return []
    if penalty <= 0:
        return [int(i) for i in np.argsort(-relevance, kind="stable")[:k]]
    scale = penalty / max(1.0 - threshold, 1e-6)
    closest = np.full(n, -1.0, np.float32)  # max similarity to the picked ones
    available = np.ones(n, bool)
    picked: list[int] = []
    for _ in range(k):
        score = relevance - scale * np.maximum(closest - threshold, 0.0)
        score = np.where(available, score, -np.inf)
        best = int(np.argmax(score))
        picked.append(best)
        available[best] = False
        np.maximum(closest, similarity[best], out=closest)
    return picked
