"""Text for retrieval: tool names split into words, enhanced tool documents, tokens, keys."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence

import snowballstemmer

from toolweave.tools import Tool

__all__ = ["document_key", "split_name", "tokenize", "tool_document", "tool_fingerprint"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)")
_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP_WORDS = (
    "a an and are as at be but by can could do does for from had has have how i if in "
    "into is it its me my of on or our please so some than that the their them then "
    "there these this to us was we were what when where which who whom why will with "
    "would you your"
)
_STOP = frozenset(_STOP_WORDS.split())
_stemmer = snowballstemmer.stemmer("english")


def split_name(name: str) -> list[str]:
    """Words of an identifier: camelCase, snake_case, kebab-case, dotted ids, digits.

    Example:
        ``split_name("is.workflow.actions.getWeatherForecast_v2")`` gives
        ``["is", "workflow", "actions", "get", "weather", "forecast", "v", "2"]``.
    """
    words: list[str] = []
    for part in _WORD.findall(name):
        words.extend(w.lower() for w in _CAMEL.split(part) if w)
    return words


@functools.lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def tokenize(text: str) -> list[str]:
    """BM25 tokens: identifier-aware words, lowercased, stop words out, stemmed."""
    return [_stem(w) for w in split_name(text) if w not in _STOP]


def tool_document(
    tool: Tool,
    examples: Sequence[str] = (),
    topics: Iterable[str] = (),
    family: str | None = None,
) -> str:
    """One enhanced document for a tool, as Toolshed builds its tool knowledge base.

    It holds the name as words, the description, the family it belongs to (`family`,
    else `Tool.family`), each parameter (name words, type, description, enum values),
    the return value, and optional example questions and key topics. A tool without
    a description is described from its name, parameters and family, so that dense
    search has a sentence to match and its name words count twice.
    """
    family = family or tool.family
    name = " ".join(split_name(tool.name))
    props = tool.parameters.get("properties", {})
    description = tool.description.strip()
    if not description:
        given = ", ".join(" ".join(split_name(p)) for p in props)
        description = name.capitalize() + (f", given {given}" if given else "") + "."
    lines = [name, description]
    if family:
        lines.append(f"provided by {' '.join(split_name(family))}")
    for pname, prop in props.items():
        if not isinstance(prop, dict):
            continue
        parts = [" ".join(split_name(pname))]
        if desc := prop.get("description"):
            parts.append(str(desc))
        if enum := prop.get("enum"):
            parts.append("one of: " + ", ".join(str(v) for v in enum[:30]))
        lines.append("parameter " + ": ".join(parts))
    if tool.returns:
        lines.append(f"returns {tool.returns}")
    if examples:
        lines.append("example questions: " + " | ".join(examples))
    if topics := list(topics):
        lines.append("topics: " + ", ".join(topics))
    return "\n".join(line for line in lines if line)


def tool_fingerprint(tool: Tool) -> str:
    """A short hash of what retrieval sees of a tool; changes when the tool does."""
    data = json.dumps(
        [tool.name, tool.description, tool.parameters, tool.returns], sort_keys=True, default=str
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def document_key(
    tool: Tool, family: str | None, examples: Sequence[str], learned: Sequence[str]
) -> str:
    """What a tool's indexed document is built from; the tool is indexed again when it changes.

    Its content (`tool_fingerprint`), its family, its example questions and the
    requests it learned (left out when there are none, so that a tool that learned
    nothing keeps the key it had).
    """
    extra: list[object] = [family, list(examples)]
    if learned:
        extra.append(list(learned))
    return tool_fingerprint(tool) + json.dumps(extra)
