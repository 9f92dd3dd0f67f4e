"""How fast a registry in use learns: Recall@5 against answered requests per tool.

The log is the dev part of ToolE (single and multi-tool requests, with the tools that
served each one), as `Retriever.learn` would get it from answers users accepted. The
retriever learns the first N requests of each tool, then the test part is measured
with every stage on (example questions, families, diversity). No request measured is
learned. N = 0 is the retriever as shipped.

With --caps, the cap on requests a tool keeps (`max_learned`) instead: first with half
the dev part learned and the other half measured (where a cap may be chosen), then
with the whole log learned and the test part measured (where it may not).

Usage: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/retrieval_learning.py
           [--embedder NAME] [--per 0,1,2,5,10,20,50]
           [--caps 10,20,50,100,1000]
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter

from toolweave.evals.retrieval import (
    LEARNED,
    RetrievalCase,
    evaluate,
    holdout,
    learning_log,
    retrieval_sets,
    set_retriever,
)
from toolweave.retrieval import Embedder
from toolweave.retrieval._embedders import EMBEDDERS, embedder_named

SETS = ("toole-single", "toole-multi")


def first_per_tool(log: list[RetrievalCase], n: int) -> list[RetrievalCase]:
    """The log's requests in order, each kept while one of its tools has fewer than n."""
    seen: Counter[str] = Counter()
    kept = []
    for case in log:
        if any(seen[tool] < n for tool in case.gold):
            kept.append(case)
            seen.update(case.gold)
    return kept


def caps(embedder: Embedder, limits: list[int]) -> None:
    """Recall@5 / Complete@5 by `max_learned`: on the dev part's halves, then the test part."""
    sets = retrieval_sets()
    dev = {name: holdout(sets[name].cases(), "dev") for name in SETS}
    test = {name: holdout(sets[name].cases(), "test") for name in SETS}
    measured = {name: cases[1::2] for name, cases in dev.items()}
    asked = {c.query for cases in measured.values() for c in cases}
    halves = [c for cases in dev.values() for c in cases[::2] if c.query not in asked]
    runs = [
        ("dev halves", halves, measured),
        ("test part", learning_log("toole-single", [c for v in test.values() for c in v]), test),
    ]
    print(f"embedder: {embedder.name}")
    print(
        f"{'measured':<12}{'cap':>6}{'learned':>9}  {'set':<14}{'queries':>8}{'R@5':>6}{'C@5':>6}"
    )
    for label, log, cases_of in runs:
        for limit in limits:
            retriever = set_retriever("toole-single", embedder=embedder)
            retriever.max_learned = limit
            retriever.learn_all([(c.query, sorted(c.gold)) for c in log])
            for name, cases in cases_of.items():
                (report,) = evaluate(retriever, cases, set_name=name, stages=[LEARNED])
                row = report.row()
                print(
                    f"{label:<12}{limit:>6}{len(log):>9}  {name:<14}{report.queries:>8}"
                    f"{row['recall@5']:>6}{row['complete@5']:>6}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="wordllama", choices=list(EMBEDDERS))
    parser.add_argument("--per", default="0,1,2,5,10,20,50")
    parser.add_argument("--caps", default="", help="compare caps on requests a tool keeps")
    args = parser.parse_args()
    embedder = embedder_named(args.embedder)
    if args.caps:
        caps(embedder, [int(x) for x in args.caps.split(",")])
        return
    test = {name: holdout(retrieval_sets()[name].cases(), "test") for name in SETS}
    log = learning_log("toole-single", [c for cases in test.values() for c in cases])
    per_tool = Counter(tool for case in log for tool in case.gold)
    print(
        f"embedder: {embedder.name}; log: {len(log)} answered requests (ToolE dev part), "
        f"per tool: median {statistics.median(per_tool.values()):.0f}, "
        f"min {min(per_tool.values())}, max {max(per_tool.values())}"
    )
    print(f"{'per tool':>8}{'learned':>9}  {'set':<14}{'queries':>8}{'R@1':>6}{'R@5':>6}{'C@5':>6}")
    for n in [int(x) for x in args.per.split(",")]:
        taught = first_per_tool(log, n)
        retriever = set_retriever("toole-single", embedder=embedder)
        retriever.max_learned = max(n, 1)
        retriever.learn_all(
            [(c.query, sorted(t for t in c.gold if t in retriever)) for c in taught]
        )
        for name in SETS:
            (report,) = evaluate(retriever, test[name], set_name=name, stages=[LEARNED])
            row = report.row()
            print(
                f"{n:>8}{len(taught):>9}  {name:<14}{report.queries:>8}{row['recall@1']:>6}"
                f"{row['recall@5']:>6}{row['complete@5']:>6}",
                flush=True,
            )


if __name__ == "__main__":
    main()
