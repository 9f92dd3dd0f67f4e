"""Query decomposition: a multi-intent request split into sub-queries.

Toolshed retrieves per intent and merges, so that a request for a forecast and a hotel
gets a weather tool and a booking tool, not two of either.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from toolweave.models import Message, Model, ModelSettings, Usage

__all__ = ["Decomposition", "decompose", "decompose_with_model"]

_SPLIT = re.compile(
    r"(?<=[.?!;])\s+(?=\S)"
    r"|\s*,?\s+(?:and then|and also|as well as|after that|then|also|plus)\s+"
    r"|\s*,?\s+and\s+(?=(?:what|how|who|where|when|which|is|are|can|could|please|tell|"
    r"find|get|show|give|check|book|search|look|convert|calculate|translate|send|"
    r"recommend|list|make|create|play|buy|order)\b)",
    re.IGNORECASE,
)


def decompose(query: str, *, min_words: int = 3) -> list[str]:
    """Split a multi-intent request into sub-queries, cheaply (no model).

    Splits at sentence ends, at "then"/"also"/"as well as", and at "and" before a new
    request ("... and tell me ..."); parts shorter than `min_words` words stay joined.
    Returns ``[query]`` when there is one intent.
    """
    parts = [p.strip(" ,.;") for p in _SPLIT.split(query) if p and p.strip(" ,.;")]
    merged: list[str] = []
    for part in parts:
        if merged and len(part.split()) < min_words:
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged if len(merged) > 1 else [query]


_DECOMPOSE = """\
List the separate things this request asks for, one per line, each as a short request
that stands on its own. If it asks for one thing, write it once. Write only the lines.

Request: {query}"""
_BULLET = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


@dataclass(frozen=True, slots=True)
class Decomposition:
    """A request split into its intents by a model, with the call's cost."""

    parts: list[str]
    usage: Usage
    seconds: float


async def decompose_with_model(model: Model, query: str, *, limit: int = 5) -> Decomposition:
    """Split a request into its intents with a model (Toolshed's query decomposition).

    Falls back to the whole query when the reply holds nothing usable.
    """
    settings = ModelSettings(max_tokens=40 * limit, temperature=0.0)
    messages: list[Message] = [{"role": "user", "content": _DECOMPOSE.format(query=query)}]
    start = time.perf_counter()
    async with model.stream(messages, settings) as reply:
        async for _ in reply:
            pass
    parts: list[str] = []
    for line in reply.text.splitlines():
        text = _BULLET.sub("", line).strip().strip('"')
        if len(text.split()) >= 2 and text not in parts:
            parts.append(text)
    return Decomposition(parts[:limit] or [query], reply.usage, time.perf_counter() - start)
