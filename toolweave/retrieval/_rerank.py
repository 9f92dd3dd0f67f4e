"""The second stage: the fused top candidates reordered by a stronger, slower judge.

`ModelReranker` shows a model the request and the candidates, numbered, in one short
call and takes the numbers it names as the new order (the ones it does not name keep
their order after them). It works offline with the embedded local model. Its latency
is measured on every call, so that ``rerank="auto"`` can leave it out where a query's
budget would not fit it.

A cross-encoder fits the same `Reranker` protocol; none ships its weights inside a
package that installs from PyPI alone, so none is bundled.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from toolweave.models import Message, Model, ModelSettings

if TYPE_CHECKING:
    from toolweave.retrieval._fusion import ScoredTool

__all__ = ["RERANK_PROMPT", "ModelReranker", "Reranker", "numbers_grammar"]


@runtime_checkable
class Reranker(Protocol):
    """Reorders a query's candidate tools, best first."""

    @property
    def expected_ms(self) -> float | None:
        """What a call is expected to take, in milliseconds; `None` before the first."""
        ...

    async def rerank(self, query: str, candidates: Sequence[ScoredTool]) -> list[ScoredTool]:
        """The same candidates, reordered for `query`."""
        ...


RERANK_PROMPT = """\
Which of these tools does the request need? Reply with their numbers, the most needed \
first, separated by commas, and nothing else.

Tools:
{tools}

Request: {query}"""
"""The second stage's question: the fixed instructions first (a prefix cache keeps
them), the request last, next to the reply."""
_NUMBER = re.compile(r"\d+")


def numbers_grammar(count: int) -> str:
    """A GBNF grammar of replies that list numbers from 1 to `count`, comma separated."""
    if count < 1:
        raise ValueError("count must be 1 or more")
    numbers = " | ".join(f'"{n}"' for n in range(count, 0, -1))  # "10" before "1"
    return f'root ::= n ("," " "? n){{0,{count - 1}}}\nn ::= {numbers}\n'


class ModelReranker:
    """A model judges the candidates against the request, in one short call.

    Args:
        model: Any model that can judge tools. The local one (Qwen2.5-Coder-1.5B)
            takes about 4 s a query on 2 CPU cores and cannot: on ToolE it lists
            positions (``1, 3``) whatever the candidates, and Recall@5 did not rise
            (evals/reports/ablations/retrieval/ablation.md). Use a larger model.
        describe: How many characters of each tool's description the model sees.
        window: How many recent calls `expected_ms` is the median of.
        estimate_ms: What a call is expected to take before one is measured.
        prompt: The question, with ``{tools}`` (numbered lines) and ``{query}``.
        grammar: Send a grammar that allows only the candidates' numbers
            (`numbers_grammar`), for models that constrain decoding.
    """

    def __init__(
        self,
        model: Model,
        *,
        describe: int = 120,
        window: int = 20,
        estimate_ms: float | None = None,
        prompt: str = RERANK_PROMPT,
        grammar: bool = True,
    ) -> None:
        self.model = model
        self.describe = describe
        self.estimate_ms = estimate_ms
        self.prompt = prompt
        self.grammar = grammar
        self._latencies: deque[float] = deque(maxlen=window)

    @property
    def expected_ms(self) -> float | None:
        """The median latency of the recent calls in milliseconds, else the estimate."""
        return statistics.median(self._latencies) if self._latencies else self.estimate_ms

    async def rerank(self, query: str, candidates: Sequence[ScoredTool]) -> list[ScoredTool]:
        """Ask the model which candidates the request needs; those go first."""
        if len(candidates) < 2:
            return list(candidates)
        lines = []
        for number, hit in enumerate(candidates, 1):
            about = " ".join(hit.tool.description.split())[: self.describe]
            lines.append(
                f"{number}. {hit.tool.name}: {about}" if about else f"{number}. {hit.tool.name}"
            )
        prompt = self.prompt.format(query=query, tools="\n".join(lines))
        messages: list[Message] = [{"role": "user", "content": prompt}]
        settings = ModelSettings(
            max_tokens=4 * len(candidates) + 8,
            temperature=0.0,
            grammar=numbers_grammar(len(candidates)) if self.grammar else None,
        )
        start = time.perf_counter()
        async with self.model.stream(messages, settings) as reply:
            async for _ in reply:
                pass
        self._latencies.append((time.perf_counter() - start) * 1000)
        order: list[int] = []
        for token in _NUMBER.findall(reply.text):
            index = int(token) - 1
            if 0 <= index < len(candidates) and index not in order:
                order.append(index)
        rest = [i for i in range(len(candidates)) if i not in order]
        return [candidates[i] for i in [*order, *rest]]
