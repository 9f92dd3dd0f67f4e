"""Tool retrieval: the ablation table (Recall@1/5/10, NDCG@5, Complete@5, latency).

Sets: ToolE single-tool (199 tools), ToolE multi-tool, Seal-Tools in-domain test
(4,076 tools), ShortcutsBench registry (1,414 APIs) with the WorkflowLLM queries. Rows:
BM25 alone, dense alone, hybrid, then each stage added in turn: example questions
(written by the local model from the tools' own documents, cached in evals/cache/,
written with --write-examples; no test query is ever used for them), families,
diversity, and with --rerank N a model's second stage on N queries (the local model,
or another: --model openai:<model>@<base_url>). With
--learn, a last row after the retriever learned the dev part's requests (the tools that
served each one, as `Retriever.learn` would from answers users accepted): what a
registry in use gains; the test part is measured, and no request measured is learned.

The stages' settings were chosen on the dev part (every fifth query of each set);
the figures to report are the test part's (the other four fifths, the default).
--scale N times a synthetic registry of N tools.

Usage: python benchmarks/retrieval.py [--sets a,b] [--part dev|test|all]
           [--embedder NAME] [--examples] [--write-examples] [--limit N]
           [--rerank N] [--rerank-depth 10] [--llm-decompose] [--model local]
           [--bm25-weight 0.5]
           [--learn] [--stages +diversify] [--scale 100000]

NAME is one of toolweave's embedders (wordllama, minilm, mpnet, ensemble,
ensemble+mpnet; see `toolweave tools search --help`). --stages keeps only the named
rows (a slow embedder measured where it counts).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from toolweave.evals.retrieval import (
    ABLATION,
    REGISTRY_OF,
    RetrievalCase,
    ablation,
    evaluate,
    holdout,
    learning_log,
    retrieval_sets,
)
from toolweave.models import Model, resolve_model
from toolweave.retrieval import Embedder, Retriever
from toolweave.retrieval._embedders import EMBEDDERS, embedder_named
from toolweave.tools import Tool

CACHE = Path(__file__).resolve().parents[1] / "evals" / "cache"


def examples_for(set_name: str, tools: list[Tool], write: bool) -> dict[str, list[str]]:
    from toolweave.retrieval._examples import ExampleWriter

    registry = REGISTRY_OF.get(set_name, set_name)
    cache = CACHE / f"examples-{registry}.json"
    if write:
        from toolweave.models import LocalModel

        writer = ExampleWriter(LocalModel(), cache)

        def progress(done: int, total: int) -> None:
            if done % 25 == 0 or done == total:
                print(f"  example questions: {done}/{total}", flush=True)

        return asyncio.run(writer.write(tools, progress=progress))
    if not cache.is_file():
        return {}
    return ExampleWriter(None, cache).cached(tools)


def llm_parts(cases: list[RetrievalCase], model: Model) -> dict[str, list[str]]:
    """Each query split into its intents by `model` (timed, printed)."""
    from toolweave.retrieval import decompose_with_model

    async def split_all() -> dict[str, list[str]]:
        out, seconds = {}, []
        for case in cases:
            split = await decompose_with_model(model, case.query)
            out[case.query] = split.parts
            seconds.append(split.seconds)
        print(f"  model decomposition: {statistics.median(seconds):.2f} s a query (p50)")
        return out

    return asyncio.run(split_all())


def scale_run(n: int, embedder: Embedder) -> None:
    rng = random.Random(0)
    verb_words = "get list create update delete search convert compute send fetch book track"
    noun_words = (
        "weather invoice flight hotel stock song playlist email calendar event recipe "
        "movie ticket order payment route map photo file note task reminder contact"
    )
    verbs, nouns = verb_words.split(), noun_words.split()
    tools = []
    for i in range(n):
        verb, noun, other = rng.choice(verbs), rng.choice(nouns), rng.choice(nouns)
        tools.append(
            Tool.from_schema(
                f"{verb}_{noun}_{i}",
                f"{verb.title()} a {noun} for the {other} service, variant {i}.",
                {"type": "object", "properties": {f"{noun}_id": {"type": "string"}}},
                family=f"provider_{i % (n // 10 or 1)}",  # ten APIs a provider
            )
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    retriever = Retriever(tools, embedder=embedder)
    build = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    queries = [
        f"{rng.choice(verbs)} my {rng.choice(nouns)} for {rng.choice(nouns)}" for _ in range(300)
    ]
    start = time.perf_counter()
    retriever.search(queries[0], 5)  # builds the HNSW graph on first use above the threshold
    first = time.perf_counter() - start
    latencies, plain = [], []
    for query in queries:
        t0 = time.perf_counter()
        retriever.search(query, 5)
        latencies.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        retriever.search(query, 5, families=False, diversify=False)
        plain.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    plain.sort()
    with tempfile.TemporaryDirectory() as directory:
        retriever.save(directory)
        start = time.perf_counter()
        Retriever(tools, embedder=embedder, path=directory)
        reload = time.perf_counter() - start
    hnsw_from = retriever.settings.hnsw_threshold
    print(
        f"scale: {n} tools, build {build:.1f}s (+{first:.1f}s HNSW graph on first query), "
        f"memory +{grown:.0f} MB, query p50 "
        f"{statistics.median(latencies):.2f} ms, p95 {latencies[int(0.95 * 299)]:.2f} ms "
        f"(families and diversity on; off: p50 {statistics.median(plain):.2f} ms, p95 "
        f"{plain[int(0.95 * 299)]:.2f} ms; embedding included; dense search "
        f"{'HNSW' if n >= hnsw_from else 'exact'}); "
        f"reload from disk {reload:.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="toole-single,toole-multi,sealtools,shortcutsbench")
    parser.add_argument("--embedder", default="wordllama", choices=list(EMBEDDERS))
    parser.add_argument("--part", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--examples", action="store_true", help="examples in every row")
    parser.add_argument("--write-examples", action="store_true")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--rerank", type=int, default=0, help="run the model's rerank row on N queries"
    )
    parser.add_argument(
        "--model",
        default="local",
        help="the judge of --rerank and the splitter of --llm-decompose: local (the "
        "default) or openai:<model>@<base_url>, a larger model behind an endpoint",
    )
    parser.add_argument(
        "--rerank-depth", type=int, default=10, help="candidates the second stage reorders"
    )
    parser.add_argument(
        "--llm-decompose", action="store_true", help="split queries with the local model"
    )
    parser.add_argument(
        "--bm25-weight", type=float, default=0.5, help="the BM25 side's weight in the fusion"
    )
    parser.add_argument(
        "--learn", action="store_true", help="a last row after learning the dev part's requests"
    )
    parser.add_argument("--stages", default=None, help="only these rows, by name (e.g. +diversify)")
    parser.add_argument("--scale", type=int, default=0)
    args = parser.parse_args()
    named = {s.name for s in ABLATION}
    keep = set(args.stages.split(",")) if args.stages else named
    if keep - named:
        parser.error(f"unknown stage(s) {', '.join(sorted(keep - named))}; choose from {named}")
    if args.learn and args.part != "test":
        parser.error("--learn learns the dev part, so it measures the test part only")
    embedder = embedder_named(args.embedder)
    weights = (args.bm25_weight, 1.0)
    reranker = None
    if args.rerank:
        from toolweave.retrieval import ModelReranker

        reranker = ModelReranker(resolve_model(args.model))
    print(
        f"embedder: {embedder.name}; fusion weights {weights}; queries: {args.part} part "
        "(every fifth case is dev)"
    )
    print(
        f"{'set':<16}{'stage':<12}{'queries':>8}{'R@1':>6}{'R@5':>6}{'R@10':>6}{'NDCG@5':>8}"
        f"{'C@5':>6}{'p50 ms':>8}{'p95 ms':>8}{'build s':>8}"
    )
    for name in [s for s in args.sets.split(",") if s]:
        spec = retrieval_sets()[name]
        if args.write_examples:
            examples_for(name, list(spec.registry()), True)
        cases = holdout(spec.cases(), args.part)
        cases = cases[:: max(1, len(cases) // args.limit)][: args.limit] if args.limit else cases
        if args.llm_decompose:
            registry = list(spec.registry())
            examples = examples_for(name, registry, False)
            retriever = Retriever(registry, embedder=embedder, examples=examples, weights=weights)
            reports = evaluate(
                retriever,
                cases,
                set_name=name,
                stages=[replace(s, examples=True) for s in ABLATION[3:6]],
                parts=llm_parts(cases, resolve_model(args.model)),
            )
        else:
            stages = [replace(s, examples=True) for s in ABLATION] if args.examples else ABLATION
            stages = [s for s in stages if s.name in keep]
            log = learning_log(name, cases) if args.learn else []
            if log:
                print(f"  learning {len(log)} answered requests (the dev part) for +learned")
            reports = ablation(
                name,
                cases,
                stages=stages,
                embedder=embedder,
                reranker=reranker,
                rerank_cases=args.rerank,
                rerank_depth=args.rerank_depth,
                weights=weights,
                learn=log,
            )
        for report in reports:
            r = report.row()
            print(
                f"{name:<16}{report.stage:<12}{report.queries:>8}{r['recall@1']:>6}"
                f"{r['recall@5']:>6}{r['recall@10']:>6}{r['ndcg@5']:>8}{r['complete@5']:>6}"
                f"{r['p50_ms']:>8}{r['p95_ms']:>8}{r['build_s']:>8}",
                flush=True,
            )
        if reranker is not None and reranker.expected_ms is not None:
            print(f"  second stage alone: {reranker.expected_ms:.0f} ms a query (median, recent)")
    if args.scale:
        scale_run(args.scale, embedder)


if __name__ == "__main__":
    main()
