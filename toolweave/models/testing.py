"""Deterministic models for tests, examples and benchmarks; they never touch a network.

- `ScriptedModel` answers from a queue of responses, streamed in chunks, optionally
  with a real endpoint's timing (time to first token, tokens per second).
- `FunctionModel` answers with a function of the messages.

Both honour stop sequences as endpoints do, count tokens as about four characters each,
and record every call's messages in `calls`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager

from toolweave.errors import ModelError
from toolweave.models._base import (
    CHARS_PER_TOKEN,
    Message,
    ModelSettings,
    ModelStream,
    Usage,
    estimate_tokens,
    no_chunks,
)

__all__ = ["FunctionModel", "ScriptedModel", "estimate_tokens"]


def _apply_stop(text: str, stop: Sequence[str]) -> str:
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class _Recording:
    """Shared by the test models: history, timing, chunking, stop sequences, usage."""

    def __init__(
        self,
        *,
        name: str,
        chunk_size: int,
        ttft: float,
        tokens_per_second: float | None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self._name = name
        self.chunk_size = chunk_size
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.calls: list[list[Message]] = []
        """The messages of every call, in order."""
        self.settings: list[ModelSettings] = []
        """The settings of every call, in order."""

    @property
    def name(self) -> str:
        """The model's name in reports."""
        return self._name

    @asynccontextmanager
    async def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[ModelStream]:
        """Stream the next response (see the class)."""
        self.calls.append(list(messages))
        self.settings.append(settings)
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
        response = ModelStream(no_chunks(), Usage(prompt, 0))
        chunks = self._chunks(messages, settings, response)
        response.chunks = chunks
        try:
            yield response
        finally:
            await chunks.aclose()
            response.estimate_unreported()

    async def _chunks(
        self, messages: Sequence[Message], settings: ModelSettings, response: ModelStream
    ) -> AsyncGenerator[str, None]:
        text = await self._respond(messages, settings)
        text = _apply_stop(text, settings.stop)
        if settings.max_tokens is not None:
            text = text[: settings.max_tokens * CHARS_PER_TOKEN]
        if self.ttft:
            await asyncio.sleep(self.ttft)
        for start in range(0, len(text), self.chunk_size):
            chunk = text[start : start + self.chunk_size]
            if self.tokens_per_second:
                await asyncio.sleep(len(chunk) / CHARS_PER_TOKEN / self.tokens_per_second)
            yield chunk
        response.usage = Usage(response.usage.prompt_tokens, estimate_tokens(text))

    async def _respond(self, messages: Sequence[Message], settings: ModelSettings) -> str:
        raise NotImplementedError


class ScriptedModel(_Recording):
    """Answer each call with the next scripted response.

    Args:
        responses: Texts, in call order. An exception in the queue is raised by the
            call that reaches it (to script endpoint failures).
        chunk_size: Characters per streamed chunk.
        ttft: Seconds before the first chunk.
        tokens_per_second: Streaming speed, counting four characters a token; `None`
            streams as fast as the consumer reads.
        name: The model's name in reports.

    Example:
        ```python
        model = ScriptedModel([plan_text, "Action: Finish(done)"])
        ```
    """

    def __init__(
        self,
        responses: Iterable[str | BaseException] = (),
        *,
        chunk_size: int = 8,
        ttft: float = 0.0,
        tokens_per_second: float | None = None,
        name: str = "scripted",
    ) -> None:
        super().__init__(
            name=name, chunk_size=chunk_size, ttft=ttft, tokens_per_second=tokens_per_second
        )
        self.responses: deque[str | BaseException] = deque(responses)

    def add(self, *responses: str | BaseException) -> None:
        """Queue more responses."""
        self.responses.extend(responses)

    async def _respond(self, messages: Sequence[Message], settings: ModelSettings) -> str:
        if not self.responses:
            raise ModelError(f"{self.name}: no scripted response left for call {len(self.calls)}")
        response = self.responses.popleft()
        if isinstance(response, BaseException):
            raise response
        return response


ResponseFunction = Callable[[list[Message], ModelSettings], str | Awaitable[str]]
"""Computes a response from the call's messages and settings."""


class FunctionModel(_Recording):
    """Answer each call with `fn(messages, settings)` (sync or async).

    Args:
        fn: Computes the response text.
        chunk_size: Characters per streamed chunk.
        ttft: Seconds before the first chunk.
        tokens_per_second: Streaming speed (four characters a token).
        name: The model's name in reports.
    """

    def __init__(
        self,
        fn: ResponseFunction,
        *,
        chunk_size: int = 8,
        ttft: float = 0.0,
        tokens_per_second: float | None = None,
        name: str = "function",
    ) -> None:
        super().__init__(
            name=name, chunk_size=chunk_size, ttft=ttft, tokens_per_second=tokens_per_second
        )
        self.fn = fn

    async def _respond(self, messages: Sequence[Message], settings: ModelSettings) -> str:
        result = self.fn(list(messages), settings)
        if inspect.isawaitable(result):
            result = await result
        return result
