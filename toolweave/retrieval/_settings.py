"""`RetrieverSettings`: the retriever's knobs in one frozen, checked value.

A setting that would rank nothing, or silently be another (an unknown fusion read as
z-scores, no candidates, a negative weight), is a `UserError` when the value is made,
not a quiet surprise at search time. `Retriever` takes the same knobs as keywords.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypedDict, TypeVar, overload

from toolweave.errors import UserError
from toolweave.retrieval._families import FamilyOf, family_of

__all__ = ["Fusion", "Knob", "RetrieverKnobs", "RetrieverSettings", "checked_settings"]

Fusion = Literal["zscore", "rrf"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetrieverSettings:
    """How a `Retriever` indexes, ranks and learns; checked when made.

    Change one with `dataclasses.replace` (checked again), or give the knobs to
    `Retriever` by keyword.

    Attributes:
        max_learned: How many learned requests (`Retriever.learn`) a tool's document
            keeps, the most recent.
        candidates: How deep each ranking goes before fusion.
        fusion: ``zscore``: each side's scores standardized over the candidates,
            then added with `weights`, so a side counts by how much its best matches
            stand out; or ``rrf``: reciprocal-rank fusion.
        rrf_k: The reciprocal-rank-fusion constant.
        weights: Weights of the BM25 and the dense side in the fusion.
        hnsw_threshold: From this many tools on, dense search is approximate (HNSW).
        families: Names each tool's family (`family_of` by default: `Tool.family` or
            the metadata; `by_suffix` and `by_prefix` read it from names); `None`
            for no families.
        family_weight: How much a family's support lifts its members, in standard
            deviations of the fused score; 0 turns the stage off.
        diversity: Relevance taken off a near-copy of a tool already in the top k, in
            standard deviations; 0 turns the stage off.
        duplicate_similarity: Similarity (document cosine, or overlap of the words
            other than the family's) from which two tools count as near-copies.
        rerank_depth: How many candidates the second stage sees.

    Raises:
        UserError: A value out of its range; the message names the setting and the rule.
    """

    max_learned: int = 50
    candidates: int = 100
    fusion: Fusion = "zscore"
    rrf_k: int = 60
    weights: tuple[float, float] = (0.5, 1.0)
    hnsw_threshold: int = 50_000
    families: FamilyOf | None = family_of
    family_weight: float = 0.5
    diversity: float = 3.0
    duplicate_similarity: float = 0.85
    rerank_depth: int = 10

    def __post_init__(self) -> None:
        weights = _pair(self.weights)
        checks = [
            ("fusion", self.fusion, self.fusion in ("zscore", "rrf"), "'zscore' or 'rrf'"),
            ("max_learned", self.max_learned, self.max_learned >= 0, "0 or more"),
            ("hnsw_threshold", self.hnsw_threshold, self.hnsw_threshold >= 0, "0 or more"),
            ("candidates", self.candidates, self.candidates >= 1, "at least 1"),
            ("rerank_depth", self.rerank_depth, self.rerank_depth >= 1, "at least 1"),
            ("rrf_k", self.rrf_k, self.rrf_k >= 0, "0 or more"),
            (
                "weights",
                self.weights,
                weights is not None
                and all(math.isfinite(w) and w >= 0 for w in weights)
                and any(weights),
                "two numbers, 0 or more, not both 0",
            ),
            ("family_weight", self.family_weight, self.family_weight >= 0, "0 or more"),
            ("diversity", self.diversity, self.diversity >= 0, "0 or more"),
            (
                "duplicate_similarity",
                self.duplicate_similarity,
                0 < self.duplicate_similarity <= 1,
                "above 0 and at most 1",
            ),
        ]
        for name, value, ok, rule in checks:
            if not ok:
                raise UserError(f"Retriever: {name} must be {rule}, not {value!r}")
        # a list would stay mutable inside a frozen value: keep a tuple of floats
        object.__setattr__(self, "weights", weights)


class RetrieverKnobs(TypedDict, total=False):
    """`RetrieverSettings`' fields as the keywords `Retriever` takes (each optional)."""

    max_learned: int
    candidates: int
    fusion: Fusion
    rrf_k: int
    weights: tuple[float, float]
    hnsw_threshold: int
    families: FamilyOf | None
    family_weight: float
    diversity: float
    duplicate_similarity: float
    rerank_depth: int


def checked_settings(settings: object) -> RetrieverSettings:
    """`settings` if it is a `RetrieverSettings`; a `UserError` otherwise."""
    if not isinstance(settings, RetrieverSettings):
        raise UserError(f"Retriever: settings must be a RetrieverSettings, not {settings!r}")
    return settings


class _Tuned(Protocol):
    """What has settings that can be replaced (a `Retriever`)."""

    settings: RetrieverSettings


class Knob(Generic[T]):
    """One of `RetrieverSettings`' fields, read and written as an attribute of its owner.

    A write is checked and replaces the owner's `settings`, which stay one frozen,
    valid value: ``retriever.weights = (0.3, 1.0)`` is
    ``retriever.settings = dataclasses.replace(retriever.settings, weights=(0.3, 1.0))``.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, tuned: None, owner: type) -> Knob[T]: ...
    @overload
    def __get__(self, tuned: _Tuned, owner: type) -> T: ...
    def __get__(self, tuned: _Tuned | None, owner: type) -> Knob[T] | T:
        if tuned is None:
            return self
        value: T = getattr(tuned.settings, self._name)
        return value

    def __set__(self, tuned: _Tuned, value: T) -> None:
        tuned.settings = dataclasses.replace(tuned.settings, **{self._name: value})  # type: ignore[arg-type]


def _pair(weights: object) -> tuple[float, float] | None:
    """Two weights as floats, or `None` for anything else."""
    if isinstance(weights, str | bytes):
        return None
    try:
        pair = [float(w) for w in weights]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return (pair[0], pair[1]) if len(pair) == 2 else None
