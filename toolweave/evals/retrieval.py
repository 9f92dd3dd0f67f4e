"""Tool retrieval evaluation: ToolE, Seal-Tools and ShortcutsBench (WorkflowLLM) queries.

Metrics per query, averaged: Recall@k (the share of the gold tools in the top k),
NDCG@5 (binary relevance), Complete@5 (every gold tool in the top 5); and the query
latency (p50, p95) and the index build time.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolweave.evals.registries import (
    _read,
    data_dir,
    load_sealtools,
    load_shortcutsbench,
    load_toole,
    safe_name,
)
from toolweave.tools import Embedder, Retriever, ToolRegistry
from toolweave.tools._retriever import Mode

__all__ = [
    "RetrievalCase",
    "RetrievalReport",
    "RetrievalSet",
    "evaluate",
    "retrieval_sets",
]


@dataclass(frozen=True, slots=True)
class RetrievalCase:
    """A query and the names of the tools that serve it."""

    query: str
    gold: frozenset[str]


@dataclass(frozen=True, slots=True)
class RetrievalSet:
    """A registry and the queries to retrieve from it."""

    name: str
    registry: Callable[[], ToolRegistry]
    cases: Callable[[], list[RetrievalCase]]


def _toole_single() -> list[RetrievalCase]:
    with (data_dir() / "toole/all_clean_data.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seen: set[tuple[str, str]] = set()
    cases = []
    for row in rows:  # the CSV repeats some rows; count each query once
        key = (row["Query"].strip(), row["Tool"].strip())
        if key not in seen:
            seen.add(key)
            cases.append(RetrievalCase(key[0], frozenset({safe_name(key[1])})))
    return cases


def _toole_multi() -> list[RetrievalCase]:
    return [
        RetrievalCase(c["query"], frozenset(safe_name(t) for t in c["tool"]))
        for c in _read("toole/multi_tool_query_golden.json")
    ]


def _sealtools() -> list[RetrievalCase]:
    return [
        RetrievalCase(c["query"], frozenset(safe_name(call["api"]) for call in c["calling"]))
        for c in _read("sealtools/test_in_domain.jsonl")
    ]


def _workflowllm() -> list[RetrievalCase]:
    return [
        RetrievalCase(c["query"], frozenset(safe_name(api) for api in c["apis"]))
        for c in _read("workflowllm/data_samples.json")
    ]


def retrieval_sets() -> dict[str, RetrievalSet]:
    """The retrieval sets by name: toole-single, toole-multi, sealtools, shortcutsbench."""
    return {
        s.name: s
        for s in (
            RetrievalSet("toole-single", load_toole, _toole_single),
            RetrievalSet("toole-multi", load_toole, _toole_multi),
            RetrievalSet("sealtools", load_sealtools, _sealtools),
            RetrievalSet("shortcutsbench", load_shortcutsbench, _workflowllm),
        )
    }


@dataclass(slots=True)
class RetrievalReport:
    """Averaged metrics of one retriever mode on one set."""

    set: str
    mode: str
    queries: int
    recall: dict[int, float] = field(default_factory=dict)
    ndcg5: float = 0.0
    complete5: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    build_s: float = 0.0

    def row(self) -> dict[str, object]:
        """A flat dict, for tables and JSON."""
        return {
            "set": self.set,
            "mode": self.mode,
            "queries": self.queries,
            **{f"recall@{k}": round(100 * v, 1) for k, v in self.recall.items()},
            "ndcg@5": round(100 * self.ndcg5, 1),
            "complete@5": round(100 * self.complete5, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "build_s": round(self.build_s, 2),
        }


def evaluate(
    retriever: Retriever,
    cases: Sequence[RetrievalCase],
    *,
    set_name: str = "",
    modes: Iterable[Mode] = ("bm25", "dense", "hybrid"),
    ks: Sequence[int] = (1, 5, 10),
    build_s: float = 0.0,
    parts: Mapping[str, Sequence[str]] | None = None,
) -> list[RetrievalReport]:
    """Run every case through each mode of `retriever` and average the metrics.

    `parts` gives, by query, its intents as a model split them (see
    `decompose_with_model`); without it the retriever splits queries itself.
    """
    reports = []
    depth = max(ks)
    for mode in modes:
        hits = dict.fromkeys(ks, 0.0)
        ndcg = complete = 0.0
        latencies = []
        for case in cases:
            start = time.perf_counter()
            split = parts.get(case.query) if parts else None
            ranked = retriever.search(case.query, depth, mode=mode, parts=split)
            found = [s.tool.name for s in ranked]
            latencies.append((time.perf_counter() - start) * 1000)
            for k in ks:
                hits[k] += len(case.gold.intersection(found[:k])) / len(case.gold)
            ndcg += _ndcg(found[:5], case.gold)
            complete += case.gold <= set(found[:5])
        n = max(len(cases), 1)
        latencies.sort()
        reports.append(
            RetrievalReport(
                set_name,
                mode,
                len(cases),
                {k: v / n for k, v in hits.items()},
                ndcg / n,
                complete / n,
                statistics.median(latencies) if latencies else 0.0,
                latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
                build_s,
            )
        )
    return reports


def _ndcg(found: Sequence[str], gold: frozenset[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, name in enumerate(found) if name in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), len(found) or 5)))
    return dcg / ideal if ideal else 0.0


def run_set(
    name: str, *, embedder: Embedder | None = None, limit: int | None = None, **kwargs: Any
) -> list[RetrievalReport]:
    """Build a retriever for one named set and evaluate it (all modes)."""
    spec = retrieval_sets()[name]
    registry = spec.registry()
    start = time.perf_counter()
    retriever = Retriever(registry, embedder=embedder, **kwargs)
    build = time.perf_counter() - start
    cases = spec.cases()[:limit] if limit else spec.cases()
    return evaluate(retriever, cases, set_name=name, build_s=build)
