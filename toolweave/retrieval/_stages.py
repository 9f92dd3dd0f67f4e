"""The ranking stages: small functions over one candidate state, composed in order.

As tenacity composes its ``stop`` and ``wait`` strategies, a search here is a list of
stages, each a callable that maps a `Candidates` to the next:

1. `lexical` and `dense` recall: each query's best BM25 matches and nearest
   vectors join the candidate pool (the pool of all queries is shared);
2. `fusion` scores the pool: both sides' scores, fused into the one that ranks;
3. `families` lifts a tool by how well its siblings serve the request;
4. `diversify` keeps near-copies of one API out of each query's top k (MMR);

then `hits` reads each query's top k and merges them, and `rerank` lets a second,
slower judge reorder them. `pipeline` builds the list `Retriever.search` runs; a
stage left out is a stage switched off.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from toolweave.retrieval._families import sibling_support
from toolweave.retrieval._fusion import ScoredTool, fuse, merge, top, zscore
from toolweave.retrieval._index import ToolIndex
from toolweave.retrieval._mmr import diversify as pick_diverse
from toolweave.retrieval._mmr import near_copies
from toolweave.retrieval._rerank import Reranker
from toolweave.retrieval._settings import RetrieverSettings
from toolweave.retrieval._text import tokenize

__all__ = [
    "MODES",
    "Candidates",
    "Mode",
    "Stage",
    "dense",
    "diversify",
    "families",
    "fusion",
    "hits",
    "lexical",
    "pipeline",
    "rerank",
    "run",
]

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = get_args(Mode)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Candidates:
    """One search's state: its queries, their signals and the candidates' scores.

    Attributes:
        queries: The whole request first, then its intents (if it has several).
        lexical: Each query's BM25 score of every slot (one row per query).
        vectors: Each query's embedding (one row per query).
        pool: The candidate slots (the recall stages widen it): one recall list as it
            came, several merged in ascending order.
        bm25: Each query's BM25 score of each candidate (set by `fusion`).
        dense: Each query's cosine similarity to each candidate (set by `fusion`).
        fused: The score each query ranks the candidates by (set by `fusion`,
            lifted by `families`).
        orders: Each query's ranking, as indices into `pool`, best first; empty
            until a stage orders them (`hits` then sorts by `fused`).
        recalled: Whether a recall stage has run (the pool is its lists' union).
    """

    queries: tuple[str, ...]
    lexical: FloatArray
    vectors: FloatArray
    pool: IntArray
    bm25: FloatArray
    dense: FloatArray
    fused: FloatArray
    orders: tuple[IntArray, ...] = ()
    recalled: bool = False

    @classmethod
    def start(cls, index: ToolIndex, queries: Sequence[str]) -> Candidates:
        """The state before any stage: the queries scored by BM25 and embedded."""
        size = index.vectors.size
        lexical = np.stack([index.bm25.scores(tokenize(q), size) for q in queries])
        empty = np.zeros((len(queries), 0), np.float32)
        return cls(
            queries=tuple(queries),
            lexical=lexical,
            vectors=index.embedder.embed(list(queries)),
            pool=np.zeros(0, np.int64),
            bm25=empty,
            dense=empty,
            fused=empty,
        )

    def widened(self, slots: Iterable[IntArray]) -> Candidates:
        """This state with more candidates; a pool that changed waits for `fusion`."""
        lists = list(slots)
        if self.recalled:
            pool = functools.reduce(np.union1d, lists, self.pool)
            if np.array_equal(pool, self.pool):
                return self  # nothing new: the scores still hold
        elif lists:
            # one list alone stays as it came, best first: the ties among its scores
            # keep that order, as they always have (several are merged, ascending)
            pool = functools.reduce(np.union1d, lists)
        else:
            return self
        unscored = np.zeros((len(self.queries), 0), np.float32)
        return dataclasses.replace(
            self,
            pool=pool,
            recalled=True,
            bm25=unscored,
            dense=unscored,
            fused=unscored,
            orders=(),
        )

    def ordered(self) -> tuple[IntArray, ...]:
        """Each query's ranking: the stages' order, or by `fused`, best first."""
        if self.orders:
            return self.orders
        return tuple(np.argsort(-row, kind="stable") for row in self.fused)

    def scored(self) -> bool:
        """Whether the scores cover the pool (`fusion` ran after the last change)."""
        return bool(self.fused.shape[1] == len(self.pool))


Stage = Callable[[Candidates], Candidates]
"""One step of a search: a candidate state in, the next out."""


def run(stages: Iterable[Stage], state: Candidates) -> Candidates:
    """Apply the stages in order."""
    return functools.reduce(lambda current, stage: stage(current), stages, state)


def lexical(depth: int) -> Stage:
    """Recall each query's `depth` best BM25 matches (those that match at all)."""

    def stage(state: Candidates) -> Candidates:
        return state.widened(top(row, depth, positive=True) for row in state.lexical)

    return stage


def dense(index: ToolIndex, depth: int) -> Stage:
    """Recall each query's `depth` nearest tools by their document vectors."""

    def stage(state: Candidates) -> Candidates:
        return state.widened(index.vectors.search_many(state.vectors, depth))

    return stage


def fusion(index: ToolIndex, mode: Mode, settings: RetrieverSettings) -> Stage:
    """Score the pool on both sides; rank by one side (`mode`) or by both, fused."""

    def stage(state: Candidates) -> Candidates:
        bm25 = state.lexical[:, state.pool]
        similarity = state.vectors @ index.vectors.matrix[state.pool].T
        if mode == "bm25" or not len(state.pool):
            fused = bm25
        elif mode == "dense":
            fused = similarity
        else:
            fused = fuse(
                bm25,
                similarity,
                method=settings.fusion,
                weights=settings.weights,
                rrf_k=settings.rrf_k,
            )
        return dataclasses.replace(state, bm25=bm25, dense=similarity, fused=fused, orders=())

    return stage


def families(index: ToolIndex, weight: float) -> Stage:
    """Lift each candidate by its siblings' support, `weight` standard deviations a unit.

    The scores are standardized per query first, so a family lifts its members by
    how far they stand out, whatever the scale of the fusion.
    """

    def stage(state: Candidates) -> Candidates:
        _check_scored(state, "families")
        if not len(state.pool):
            return state
        relevance = [zscore(row) for row in state.fused]
        support = sibling_support(index.family_codes()[state.pool], relevance)
        fused = np.stack(relevance) + weight * support
        return dataclasses.replace(state, fused=fused, orders=())

    return stage


def diversify(index: ToolIndex, k: int, *, penalty: float, threshold: float) -> Stage:
    """Keep near-copies of one API from several families out of each query's top `k`.

    Maximal marginal relevance over the head of each query's ranking; a head whose
    tools are of one family (or none) is left as it is.
    """

    def stage(state: Candidates) -> Candidates:
        _check_scored(state, "diversify")
        codes_of = index.family_codes()
        orders = []
        for row, order in enumerate(state.ordered()):
            head = order[: max(4 * k, 20)]
            codes = codes_of[state.pool[head]]
            if len(np.unique(codes[codes >= 0])) > 1:
                slots = state.pool[head].tolist()
                similarity = near_copies(
                    index.vectors.matrix[slots], [index.content[s] for s in slots], codes
                )
                picked = pick_diverse(
                    zscore(state.fused[row][head]),
                    similarity,
                    k,
                    penalty=penalty,
                    threshold=threshold,
                )
                order = head[picked]
            orders.append(order)
        return dataclasses.replace(state, orders=tuple(orders))

    return stage


def pipeline(
    index: ToolIndex,
    settings: RetrieverSettings,
    *,
    k: int,
    mode: Mode = "hybrid",
    use_families: bool = True,
    use_diversity: bool = True,
) -> list[Stage]:
    """The stages of `Retriever.search`, each left out where it is switched off."""
    stages: list[Stage] = []
    if mode != "dense":
        stages.append(lexical(settings.candidates))
    if mode != "bm25":
        stages.append(dense(index, settings.candidates))
    stages.append(fusion(index, mode, settings))
    if use_families and settings.family_weight > 0 and settings.families is not None:
        stages.append(families(index, settings.family_weight))
    if use_diversity and settings.diversity > 0:
        stages.append(
            diversify(
                index,
                k,
                penalty=settings.diversity,
                threshold=settings.duplicate_similarity,
            )
        )
    return stages


def hits(index: ToolIndex, state: Candidates, k: int) -> list[ScoredTool]:
    """The `k` best tools: each query's top `k`, merged so that every intent keeps its best."""
    _check_scored(state, "hits")
    if not len(state.pool):
        return []
    rankings = []
    for row, (text, order) in enumerate(zip(state.queries, state.ordered(), strict=True)):
        rankings.append(
            [
                ScoredTool(
                    index.tool(int(state.pool[i])),
                    float(state.fused[row, i]),
                    float(state.bm25[row, i]),
                    float(state.dense[row, i]),
                    text,
                )
                for i in order[:k].tolist()
            ]
        )
    return rankings[0] if len(rankings) == 1 else merge(rankings, k)


async def rerank(
    reranker: Reranker, query: str, candidates: Sequence[ScoredTool], k: int
) -> list[ScoredTool]:
    """The second stage: `reranker` reorders the candidates; the best `k` are kept."""
    return (await reranker.rerank(query, candidates))[:k]


def _check_scored(state: Candidates, stage: str) -> None:
    if not state.scored():
        raise ValueError(f"{stage} needs the pool scored: run `fusion` after the recall stages")
