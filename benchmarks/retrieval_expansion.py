"""Two query expansions tried for ToolE's Recall@5 on the dev part, and dropped.

1. Pseudo-relevance feedback (Rocchio on the dense side): the query's vector plus
   `beta` times the mean vector of the first pass's top `m` tools, then fused with BM25
   again. No model; it reads the retriever's internals (its score matrix and vectors),
   which is why it is an experiment here and not a stage.
2. HyDE with the local model: the model names and describes the app a request needs,
   and that text is searched beside the request (concatenated, as a second intent
   fused with it, or alone).

Usage: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/retrieval_expansion.py [N]
(N: the first N dev queries of each set for HyDE; PRF runs on the whole dev part.)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import numpy as np

from toolweave.evals.retrieval import (
    RetrievalCase,
    holdout,
    retrieval_sets,
    set_retriever,
)
from toolweave.models import LocalModel, ModelSettings
from toolweave.retrieval import Retriever
from toolweave.retrieval import _stages as stages
from toolweave.retrieval._fusion import fuse

SETS = ("toole-single", "toole-multi")
HYDE_PROMPT = (
    "Name the app or API a user needs for this request, and describe in one sentence "
    "what it does, as its documentation would.\n\nRequest: {query}\n"
)


def recall5(case: RetrievalCase, found: list[str]) -> float:
    return len(case.gold.intersection(found[:5])) / len(case.gold)


def prf(retriever: Retriever, cases: list[RetrievalCase], beta: float, m: int) -> float:
    index = retriever._index
    matrix = index.vectors.matrix
    hybrid = stages.pipeline(
        index, retriever.settings, k=5, use_families=False, use_diversity=False
    )
    total = 0.0
    for case in cases:
        state = stages.run(hybrid, stages.Candidates.start(index, [case.query]))
        pool, bm25, fused = state.pool, state.bm25, state.fused
        order = np.argsort(-fused[0], kind="stable")
        if beta > 0:
            vector = retriever.embedder.embed([case.query])[0]
            vector = vector + beta * matrix[pool[order[:m]]].mean(0)
            dense = (vector / np.linalg.norm(vector)) @ matrix[pool].T
            again = fuse(
                bm25,
                dense[None, :],
                method=retriever.fusion,
                weights=retriever.weights,
                rrf_k=retriever.rrf_k,
            )
            order = np.argsort(-again[0], kind="stable")
        total += recall5(case, [index.tool(int(pool[i])).name for i in order[:5]])
    return 100 * total / len(cases)


async def hyde(model: LocalModel, query: str) -> tuple[str, float]:
    settings = ModelSettings(max_tokens=40, temperature=0.0, stop=["\n\n"])
    start = time.perf_counter()
    messages = [{"role": "user", "content": HYDE_PROMPT.format(query=query)}]
    async with model.stream(messages, settings) as reply:  # type: ignore[arg-type]
        async for _ in reply:
            pass
    return reply.text.strip(), time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    model = LocalModel()
    for name in SETS:
        spec = retrieval_sets()[name]
        retriever = set_retriever(name)
        cases = holdout(spec.cases(), "dev")
        print(f"{name}: PRF on {len(cases)} dev queries, Recall@5", flush=True)
        print(f"  none: {prf(retriever, cases, 0.0, 0):.1f}", flush=True)
        for beta in (0.3, 0.6, 1.0):
            row = ", ".join(f"m={m} {prf(retriever, cases, beta, m):.1f}" for m in (1, 3, 5))
            print(f"  beta {beta}: {row}", flush=True)
        scores = dict.fromkeys(("request", "concatenated", "fused", "alone"), 0.0)
        seconds = []
        for case in cases[:n]:
            text, took = asyncio.run(hyde(model, case.query))
            seconds.append(took)
            runs = {
                "request": retriever.search(case.query, 5),
                "concatenated": retriever.search(f"{case.query} {text}", 5),
                "fused": retriever.search(case.query, 5, parts=[case.query, text]),
                "alone": retriever.search(text, 5, split=False),
            }
            for key, hits in runs.items():
                scores[key] += recall5(case, [hit.tool.name for hit in hits])
        row = ", ".join(f"{k} {100 * v / n:.1f}" for k, v in scores.items())
        print(
            f"{name}: HyDE on the first {n} dev queries, Recall@5: {row}; model "
            f"{statistics.median(seconds):.2f} s a query (p50)",
            flush=True,
        )


if __name__ == "__main__":
    main()
