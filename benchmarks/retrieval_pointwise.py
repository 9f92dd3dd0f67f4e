"""Two pointwise second stages on the local model, tried on ToolE's dev part and dropped.

Each of the first stage's top DEPTH candidates is scored on its own, the shared part of
the prompt evaluated once a query:

- ``yes``: the model reads the request and one tool and is asked whether the tool
  serves it; the score is log P(yes) - log P(no) of its first token (a ranking score,
  not the thresholded answer, which said yes to 78 of 80 candidates before).
- ``upr``: query likelihood (UPR, Sachan et al. 2022): the model reads one tool and is
  asked for a request a user might send it; the score is the mean log-probability of
  the actual request's tokens.

Each is compared with the first stage's order alone and fused with it (reciprocal rank,
k = 10). llama.cpp is driven directly: the `Model` protocol streams text and does not
expose logits.

Usage: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/retrieval_pointwise.py [N [DEPTH [SETS]]]
(N dev queries of each set, a seeded sample; DEPTH candidates; SETS comma separated.)
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import time
from collections.abc import Sequence

import llama_cpp
import numpy as np

from toolweave.evals.retrieval import holdout, retrieval_sets, set_retriever
from toolweave.models._weights import default_model_path
from toolweave.retrieval import ScoredTool
from toolweave.tools import Tool

JUDGE = (
    "<|im_start|>system\nYou judge whether a tool serves a user's request.<|im_end|>\n"
    "<|im_start|>user\nRequest: {query}\n\nTool: "
)
JUDGE_TOOL = (
    "{tool}\n\nDoes this tool serve the request? Answer yes or no.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
WRITE = (
    "<|im_start|>system\nYou write requests that users send to tools.<|im_end|>\n"
    "<|im_start|>user\nWrite a request a user might send to this tool.\n\nTool: "
)
WRITE_TOOL = "{tool}<|im_end|>\n<|im_start|>assistant\n"


class Scorer:
    def __init__(self) -> None:
        self.llm = llama_cpp.Llama(
            model_path=str(default_model_path()),
            n_ctx=768,
            n_threads=2,
            logits_all=True,  # UPR reads every position's distribution
            verbose=False,
            n_batch=256,
        )
        self.yes = [self.tokens(w)[0] for w in ("yes", "Yes")]
        self.no = [self.tokens(w)[0] for w in ("no", "No")]

    def tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)

    def prefix(self, text: str) -> int:
        """Evaluate a query's shared prefix; returns its length."""
        tokens = self.tokens(text)
        self.llm.n_tokens = 0
        self.llm.eval(tokens)
        return len(tokens)

    def after(self, past: int, tokens: list[int]) -> None:
        """Evaluate `tokens` after the first `past` (the rest of the cache dropped)."""
        self.llm.n_tokens = past
        self.llm.eval(tokens)

    def judge(self, query: str, candidates: Sequence[ScoredTool]) -> list[float]:
        past = self.prefix(JUDGE.format(query=query))
        scores = []
        for hit in candidates:
            self.after(past, self.tokens(JUDGE_TOOL.format(tool=describe(hit.tool))))
            row = log_softmax(self.llm.scores[self.llm.n_tokens - 1])
            scores.append(logsumexp(row[self.yes]) - logsumexp(row[self.no]))
        return scores

    def likelihood(self, query: str, candidates: Sequence[ScoredTool]) -> list[float]:
        past = self.prefix(WRITE)
        request = self.tokens(query)
        scores = []
        for hit in candidates:
            middle = self.tokens(WRITE_TOOL.format(tool=describe(hit.tool)))
            self.after(past, middle + request)
            start = past + len(middle)
            total = sum(
                log_softmax(self.llm.scores[start + j - 1])[token]
                for j, token in enumerate(request)
            )
            scores.append(total / len(request))
        return scores


def describe(tool: Tool, limit: int = 200) -> str:
    about = " ".join(tool.description.split())[:limit]
    return f"{tool.name}: {about}" if about else tool.name


def log_softmax(row: np.ndarray) -> np.ndarray:
    top = row.max()
    return row - (top + np.log(np.exp(row - top).sum()))


def logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(sum(math.exp(float(v) - top) for v in values))


def ranks(scores: Sequence[float]) -> list[int]:
    """Each candidate's rank (1 is best) under `scores`."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    rank = [0] * len(scores)
    for position, i in enumerate(order):
        rank[i] = position + 1
    return rank


def rrf(*rankings: list[int], k: int = 10) -> list[float]:
    return [sum(1 / (k + r) for r in ranked) for ranked in zip(*rankings, strict=True)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    sets = sys.argv[3].split(",") if len(sys.argv) > 3 else ["toole-single", "toole-multi"]
    scorer = Scorer()
    for name in sets:
        spec = retrieval_sets()[name]
        retriever = set_retriever(name)
        cases = random.Random(0).sample(holdout(spec.cases(), "dev"), n)
        recall: dict[str, float] = {}
        seconds: dict[str, list[float]] = {"yes": [], "upr": []}
        for case in cases:
            candidates = retriever.search(case.query, depth)
            first = [-float(i) for i in range(len(candidates))]
            start = time.perf_counter()
            yes = scorer.judge(case.query, candidates)
            seconds["yes"].append(time.perf_counter() - start)
            start = time.perf_counter()
            upr = scorer.likelihood(case.query, candidates)
            seconds["upr"].append(time.perf_counter() - start)
            base = ranks(first)
            variants = {
                "base": first,
                "yes": yes,
                "upr": upr,
                "base+yes": rrf(base, ranks(yes)),
                "base+upr": rrf(base, ranks(upr)),
                "all3": rrf(base, ranks(yes), ranks(upr)),
                "yes+upr": rrf(ranks(yes), ranks(upr)),
            }
            for key, scores in variants.items():
                order = sorted(range(len(candidates)), key=lambda i, s=scores: -s[i])
                top = [candidates[i].tool.name for i in order[:5]]
                recall[key] = recall.get(key, 0) + len(case.gold.intersection(top)) / len(case.gold)
            shown = [hit.tool.name for hit in candidates[:3]]
            print(case.query[:60], sorted(case.gold), shown, flush=True)
        row = ", ".join(f"{k} {100 * v / len(cases):.1f}" for k, v in recall.items())
        print(
            f"{name} n={len(cases)} depth={depth} R@5: {row}; p50 "
            f"yes {statistics.median(seconds['yes']):.2f}s "
            f"upr {statistics.median(seconds['upr']):.2f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
