"""The `Model` protocol: stream text for chat messages, and report token usage."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

__all__ = [
    "Message",
    "Model",
    "ModelSettings",
    "ModelStream",
    "ToolCallRequest",
    "ToolCallingModel",
    "ToolTurn",
    "Usage",
    "no_chunks",
]


class Message(TypedDict):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How to sample one completion.

    Attributes:
        stop: Stop sequences (not included in the text).
        max_tokens: At most this many completion tokens.
        temperature: Sampling temperature; 0 for greedy.
        seed: For endpoints that support reproducible sampling.
        grammar: A GBNF grammar the completion must follow, where the model can
            constrain its decoding (the local model; an `OpenAIModel` made with
            ``grammar=``); other models ignore it. A model that says so with a
            false ``takes_grammar`` attribute is sent none: writing a plan's
            grammar takes milliseconds (3 to 7 for two tools), before the request.
    """

    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = 0.0
    seed: int | None = None
    grammar: str | None = None

    def capped(self, max_tokens: int | None) -> ModelSettings:
        """These settings with at most `max_tokens` completion tokens (`None`: as is)."""
        if max_tokens is None or (self.max_tokens is not None and self.max_tokens <= max_tokens):
            return self
        return dataclasses.replace(self, max_tokens=max(max_tokens, 1))


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent by one call, or added up over several.

    Attributes:
        prompt_tokens: Every token of the prompt.
        completion_tokens: The tokens the model wrote.
        cached_prompt_tokens: The prompt tokens the endpoint did not evaluate again,
            read from its prefix cache (OpenAI's ``prompt_tokens_details.cached_tokens``;
            for the local model, the prefix llama.cpp reused). Part of `prompt_tokens`.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    @property
    def evaluated_prompt_tokens(self) -> int:
        """The prompt tokens the model had to evaluate: the prompt less its cached part."""
        return self.prompt_tokens - self.cached_prompt_tokens

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
        )


CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About four characters a token, as for English text with common tokenizers."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(slots=True)
class ModelStream:
    """A completion in flight: iterate for text deltas; `usage` is final at the end.

    Attributes:
        chunks: The text deltas, as the model produces them.
        usage: The call's token usage; filled in by the model when the stream ends.
        text: Everything received so far.
    """

    chunks: AsyncIterator[str]
    usage: Usage = field(default_factory=Usage)
    _parts: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """Everything received so far (joined on demand: no quadratic concatenation)."""
        parts = self._parts
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        return parts[0] if parts else ""

    def estimate_unreported(self) -> None:
        """Estimate the completion tokens of the text read where the model reported none.

        A consumer that leaves a stream early (the planner at ``join()``, the joiner
        after its Action line) can leave before an endpoint's usage arrives.
        """
        if self.usage.completion_tokens == 0 and self.text:
            self.usage = dataclasses.replace(
                self.usage, completion_tokens=estimate_tokens(self.text)
            )

    def __aiter__(self) -> ModelStream:
        return self

    async def __anext__(self) -> str:
        chunk = await anext(self.chunks)
        self._parts.append(chunk)
        return chunk


@runtime_checkable
class Model(Protocol):
    """A chat model that streams text.

    `stream` is an async context manager so that the underlying connection or worker
    is released however the consumer leaves:

    ```python
    async with model.stream(messages, settings) as response:
        async for delta in response:
            ...
    print(response.usage)
    ```
    """

    @property
    def name(self) -> str:
        """A short name for reports: ``local:qwen2.5-coder-1.5b``, ``openai:gpt-4o``."""
        ...

    def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AbstractAsyncContextManager[ModelStream]:
        """Start a completion for `messages`.

        Raises:
            ModelError: The endpoint failed, before or during the stream.
        """
        ...


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """A tool call the model asked for in a native function-calling turn.

    Attributes:
        id: The endpoint's id for the call, echoed in the ``tool`` message.
        name: The tool's name.
        arguments: The arguments as the model wrote them: JSON text, not yet parsed.
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """One native function-calling turn: text, the calls asked for, the usage."""

    text: str
    calls: tuple[ToolCallRequest, ...]
    usage: Usage


@runtime_checkable
class ToolCallingModel(Protocol):
    """A model with native (OpenAI-style, parallel) function calling."""

    async def call_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        settings: ModelSettings,
    ) -> ToolTurn:
        """One turn of native function calling.

        `messages` are in the Chat Completions form (``tool_calls`` and ``tool``
        messages included); `tools` are ``tools`` entries (`Tool.to_openai`).

        Raises:
            ModelError: The endpoint failed or rejected the tools.
        """
        ...


async def no_chunks() -> AsyncGenerator[str, None]:
    """An empty stream of chunks: a placeholder until a model sets the real one."""
    return
    yield
