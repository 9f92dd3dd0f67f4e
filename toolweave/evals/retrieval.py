"""Tool retrieval evaluation: ToolE, Seal-Tools and ShortcutsBench (WorkflowLLM) queries.

Metrics per query, averaged: Recall@k (the share of the gold tools in the top k),
NDCG@5 (binary relevance), Complete@5 (every gold tool in the top 5); and the query
latency (p50, p95) and the index build time.
"""

from __future__ import annotations

import asyncio
import csv
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from toolweave.errors import UserError
from toolweave.evals.registries import (
    _read,
    data_dir,
    load_sealtools,
    load_shortcutsbench,
    load_toole,
    safe_name,
)
from toolweave.retrieval import Embedder, Mode, Reranker, Retriever
from toolweave.retrieval._examples import ExampleWriter
from toolweave.tools import Tool, ToolRegistry

__all__ = [
    "ABLATION",
    "LEARNED",
    "RetrievalCase",
    "RetrievalReport",
    "RetrievalSet",
    "Stages",
    "ablation",
    "cached_examples",
    "evaluate",
    "holdout",
    "learning_log",
    "retrieval_sets",
    "set_retriever",
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


@dataclass(frozen=True, slots=True)
class Stages:
    """Which retrieval stages run: one row of the ablation table.

    Attributes:
        name: The row's label.
        mode: ``hybrid``, or one side alone (``bm25``, ``dense``).
        examples: Tool documents hold the cached example questions (where a cache
            exists for the registry, see `cached_examples`).
        families: Families lift their members.
        diversify: Near-copies are kept out of the top k.
        rerank: The second stage reorders the top candidates (needs a reranker).
        learned: Tool documents hold the requests the retriever learned (`ablation`'s
            `learn`).
    """

    name: str
    mode: Mode = "hybrid"
    examples: bool = False
    families: bool = False
    diversify: bool = False
    rerank: bool = False
    learned: bool = False


ABLATION = (
    Stages("bm25", mode="bm25"),
    Stages("dense", mode="dense"),
    Stages("hybrid"),
    Stages("+examples", examples=True),
    Stages("+families", examples=True, families=True),
    Stages("+diversify", examples=True, families=True, diversify=True),
    Stages("+rerank", examples=True, families=True, diversify=True, rerank=True),
)
"""Each stage added in turn to the one before (bm25 and dense: the two sides alone)."""

LEARNED = Stages("+learned", examples=True, families=True, diversify=True, learned=True)
"""`+diversify` after the retriever learned a log of answered requests (`Retriever.learn`)."""


def cached_examples(registry_name: str, tools: Iterable[Tool]) -> dict[str, list[str]]:
    """The example questions cached in ``evals/cache/examples-<registry>.json``, by tool.

    They were written by the local model from each tool's own document, never from a
    query of the test sets (`ExampleWriter`).
    """
    cache = data_dir().parent / "cache" / f"examples-{registry_name}.json"
    return ExampleWriter(None, cache).cached(tools) if cache.is_file() else {}


def set_retriever(name: str, *, embedder: Embedder | None = None) -> Retriever:
    """A retriever over the registry of set `name`, with its cached example questions."""
    tools = list(retrieval_sets()[name].registry())
    examples = cached_examples(REGISTRY_OF.get(name, name), tools)
    return Retriever(tools, embedder=embedder, examples=examples or None)


def learning_log(name: str, asked: Sequence[RetrievalCase] = ()) -> list[RetrievalCase]:
    """The dev part of every set asked of set `name`'s registry: a log to learn from.

    It stands for the requests a registry in use has answered, with the tools that
    served them. Requests whose text is among `asked` (the queries to be measured)
    are left out, so nothing measured was learned.
    """
    registry = REGISTRY_OF.get(name, name)
    measured = {case.query for case in asked}
    return [
        case
        for other, spec in retrieval_sets().items()
        if REGISTRY_OF.get(other, other) == registry
        for case in holdout(spec.cases(), "dev")
        if case.query not in measured
    ]


def holdout(cases: Sequence[RetrievalCase], part: str) -> list[RetrievalCase]:
    """Every fifth case (``dev``, to tune on), the others (``test``), or ``all``."""
    if part == "all":
        return list(cases)
    if part not in ("dev", "test"):
        raise ValueError(f"part must be dev, test or all, not {part!r}")
    return [c for i, c in enumerate(cases) if (i % 5 == 0) == (part == "dev")]


@dataclass(slots=True)
class RetrievalReport:
    """Averaged metrics of one retriever mode on one set."""

    set: str
    stage: str
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
            "stage": self.stage,
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
    stages: Iterable[Stages] = ABLATION[:3],
    ks: Sequence[int] = (1, 5, 10),
    build_s: float = 0.0,
    parts: Mapping[str, Sequence[str]] | None = None,
) -> list[RetrievalReport]:
    """Run every case through each stage setting of `retriever`; average the metrics.

    The retriever's documents are what they are (`Stages.examples` is the caller's to
    honour). `parts` gives, by query, its intents as a model split them (see
    `decompose_with_model`); without it the retriever splits queries itself. A
    `Stages.rerank` row runs the retriever's reranker (an error without one), and its
    latency is the whole query's, second stage included.
    """
    reports = []
    depth = max(*ks, 5)  # NDCG@5 and Complete@5 need five
    for stage in stages:
        if stage.rerank:
            runs = asyncio.run(_reranked(retriever, cases, depth, stage))
        else:
            runs = [_timed(retriever, case, depth, stage, parts) for case in cases]
        hits = dict.fromkeys(ks, 0.0)
        ndcg = complete = 0.0
        latencies = sorted(ms for _, ms in runs)
        for case, (found, _) in zip(cases, runs, strict=True):
            for k in ks:
                hits[k] += len(case.gold.intersection(found[:k])) / len(case.gold)
            ndcg += _ndcg(found[:5], case.gold)
            complete += case.gold <= set(found[:5])
        n = max(len(cases), 1)
        reports.append(
            RetrievalReport(
                set_name,
                stage.name,
                len(cases),
                {k: v / n for k, v in hits.items()},
                ndcg / n,
                complete / n,
                statistics.median(latencies) if latencies else 0.0,
                latencies[math.ceil(0.95 * len(latencies)) - 1] if latencies else 0.0,
                build_s,
            )
        )
    return reports


def _timed(
    retriever: Retriever,
    case: RetrievalCase,
    depth: int,
    stage: Stages,
    parts: Mapping[str, Sequence[str]] | None,
) -> tuple[list[str], float]:
    start = time.perf_counter()
    ranked = retriever.search(
        case.query,
        depth,
        mode=stage.mode,
        parts=parts.get(case.query) if parts else None,
        families=stage.families,
        diversify=stage.diversify,
    )
    return [s.tool.name for s in ranked], (time.perf_counter() - start) * 1000


async def _reranked(
    retriever: Retriever, cases: Sequence[RetrievalCase], depth: int, stage: Stages
) -> list[tuple[list[str], float]]:
    out = []
    for case in cases:
        start = time.perf_counter()
        first = retriever.search(
            case.query,
            max(depth, retriever.rerank_depth),
            mode=stage.mode,
            families=stage.families,
            diversify=stage.diversify,
        )
        if retriever.reranker is None:
            raise UserError("the rerank stage needs a Retriever built with a reranker")
        ranked = await retriever.reranker.rerank(case.query, first[: retriever.rerank_depth])
        found = [s.tool.name for s in ranked]
        found += [s.tool.name for s in first[retriever.rerank_depth :]]
        out.append((found, (time.perf_counter() - start) * 1000))
    return out


def _ndcg(found: Sequence[str], gold: frozenset[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, name in enumerate(found) if name in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), len(found) or 5)))
    return dcg / ideal if ideal else 0.0


def ablation(
    name: str,
    cases: Sequence[RetrievalCase],
    *,
    stages: Sequence[Stages] = ABLATION[:-1],
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
    rerank_cases: int = 50,
    rerank_depth: int = 10,
    weights: tuple[float, float] = (0.5, 1.0),
    learn: Sequence[RetrievalCase] = (),
) -> list[RetrievalReport]:
    """The ablation table of one retrieval set: each stage added in turn.

    The registry is indexed twice: without example questions and, where the registry
    has a cache of them, with. A rerank row runs on the first `rerank_cases` cases
    only (the local model took about a minute a query on the shared 2-core machine).
    With `learn`, a last row (`LEARNED`) runs after the retriever learned each of its
    requests (`Retriever.learn`; its build time includes the learning).

    Args:
        name: A set of `retrieval_sets`.
        cases: Its cases (all, or a sample).
        stages: The rows.
        embedder: The dense side; WordLlama by default.
        reranker: The second stage, for a rerank row.
        rerank_cases: How many cases the rerank row runs.
        rerank_depth: How many candidates the second stage reorders.
        weights: The BM25 and the dense side's weights in the fusion.
        learn: Answered requests to learn before the last row (`learning_log`); none
            may be among `cases`.
    """
    if leaked := {c.query for c in learn} & {c.query for c in cases}:
        raise ValueError(f"{len(leaked)} requests to learn are among the cases measured")
    spec = retrieval_sets()[name]
    tools = list(spec.registry())
    examples = cached_examples(REGISTRY_OF.get(name, name), tools)
    reports: list[RetrievalReport] = []
    built: dict[tuple[bool, bool], tuple[Retriever, float]] = {}
    for stage in [*stages, LEARNED] if learn else stages:
        with_examples = stage.examples and bool(examples)
        if (with_examples, stage.learned) not in built:
            start = time.perf_counter()
            retriever = Retriever(
                tools,
                embedder=embedder,
                examples=examples if with_examples else None,
                reranker=reranker,
                rerank_depth=rerank_depth,
                weights=weights,
            )
            if stage.learned:
                log = [(c.query, sorted(n for n in c.gold if n in retriever)) for c in learn]
                retriever.learn_all([(query, served) for query, served in log if served])
            built[with_examples, stage.learned] = (retriever, time.perf_counter() - start)
        retriever, build_s = built[with_examples, stage.learned]
        if stage.rerank and reranker is None:
            continue
        rows = cases[:rerank_cases] if stage.rerank else cases
        reports += evaluate(retriever, rows, set_name=name, stages=[stage], build_s=build_s)
    return reports


REGISTRY_OF = {"toole-single": "toole", "toole-multi": "toole"}
"""The registry a set's queries are asked of, where its name differs from the set's."""
