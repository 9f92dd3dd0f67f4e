"""Chat-template tokens in a prompt's text, made inert before a model reads it.

A model's chat template wraps each message in control tokens (``<|im_start|>``,
``<|im_end|>``, ``<|eot_id|>``, ``[INST]``, ``<start_of_turn>``). llama.cpp (in-process,
or behind its server) and vLLM render the template and then tokenize the whole prompt
with special tokens enabled: the same text inside a message would become the real
token, so a tool result, a web page or an earlier turn could close its message and
open a system turn of its own. Every message the models send is passed through
`inert`, which rewrites each such token in a visible, harmless form
(``<|im_start|>`` becomes ``<(im_start)>``): the model still reads that the text held
one, but it opens no turn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar, cast

__all__ = ["inert", "inert_json", "inert_messages"]

_WIDE = "\uff5c"  # FULLWIDTH VERTICAL LINE, DeepSeek's bar
_NAME = rf"[^\s|{_WIDE}<>\[\]]{{1,64}}"
_TOKEN = re.compile(
    rf"<\|(?P<bar>{_NAME})\|>"  # ChatML (Qwen), Llama 3, Phi: <|im_start|>, <|eot_id|>
    rf"|<{_WIDE}(?P<wide>{_NAME}){_WIDE}>"  # DeepSeek's
    r"|\[(?P<square>/?(?:INST|SYS|SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS))\]"
    r"|<<(?P<sys>/?SYS)>>"  # Llama 2's system block
    r"|<(?P<angle>/?s|start_of_turn|end_of_turn|bos|eos)>",  # Llama 2, Gemma
)
_FORMS = {
    "bar": "<({})>",
    "wide": "<({})>",
    "square": "[({})]",
    "sys": "<<({})>>",
    "angle": "<({})>",
}

M = TypeVar("M", bound=Any)


def _rewrite(match: re.Match[str]) -> str:
    kind = match.lastgroup
    assert kind is not None
    return _FORMS[kind].format(match.group(kind))


def inert(text: str) -> str:
    """`text` with every chat-template control token rewritten so that it is plain text."""
    if "<" not in text and "[" not in text:  # the common case, at no cost
        return text
    return _TOKEN.sub(_rewrite, text)


def inert_messages(messages: Iterable[M]) -> list[M]:
    """Chat messages (dicts) with `inert` text content; the others are kept as they are."""
    out: list[M] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) and (safe := inert(content)) != content:
            message = cast(M, {**message, "content": safe})
        out.append(message)
    return out


def inert_json(value: M) -> M:
    """JSON-like `value` (a tool list, say) with `inert` strings, keys and values."""
    if isinstance(value, str):
        return cast(M, inert(value))
    if isinstance(value, dict):
        return cast(M, {_key(k): inert_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return cast(M, [inert_json(item) for item in value])
    return value


def _key(key: object) -> object:
    return inert(key) if isinstance(key, str) else key
