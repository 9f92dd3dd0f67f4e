"""Record a model's calls, and replay them at another endpoint's pace.

`RecordingModel` wraps a model and saves every call: the messages, the settings, the
text the consumer read, the usage and the timings (to the first chunk, to the end).
`ReplayModel` answers the same calls from the record, paced at a chosen time to first
token and tokens per second, so the decisions of a slow run (a CPU model) can be timed
as if an API endpoint had made them. A record is a JSON Lines file, one call a line;
one compressed with gzip (``calls.jsonl.gz``) is read as well.

```python
recorder = recording(LocalModel(), "calls.jsonl")
await Agent(recorder, tools).run(question)
replay = ReplayModel.load("calls.jsonl", ttft=0.4, tokens_per_second=80)
await Agent(replay, tools).run(question)  # the same plan and answer, at API pace
```
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from toolweave.errors import ModelError
from toolweave.models._base import (
    Message,
    Model,
    ModelSettings,
    ModelStream,
    ToolCallingModel,
    ToolCallRequest,
    ToolTurn,
    Usage,
    no_chunks,
)

__all__ = ["RecordedCall", "RecordingModel", "ReplayModel", "read_record", "recording"]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def call_key(messages: Sequence[Any], settings: ModelSettings, tools: Sequence[Any] = ()) -> str:
    """What identifies a call for replay: its messages, settings and offered tools."""
    text = json.dumps(
        [_jsonable(list(messages)), _jsonable(asdict(settings)), _jsonable(list(tools))],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One model call as recorded.

    Attributes:
        key: `call_key` of the request.
        messages: The messages sent.
        settings: The settings, as a dict.
        text: The text the consumer read (a consumer that stopped early read less).
        usage: The call's token usage, as a dict of `Usage` fields.
        ttft: Seconds from the call to its first chunk (to its turn, for tool turns).
        seconds: Seconds from the call to its end.
        calls: The tool calls of a native function-calling turn, as dicts.
    """

    key: str
    messages: list[Any]
    settings: dict[str, Any]
    text: str
    usage: dict[str, int]
    ttft: float
    seconds: float
    calls: list[dict[str, str]] | None = None

    def to_usage(self) -> Usage:
        """The recorded usage (fields that this version's `Usage` lacks are dropped)."""
        known = {f.name for f in fields(Usage)}
        return Usage(**{k: v for k, v in self.usage.items() if k in known})


def read_record(path: str | Path) -> list[RecordedCall]:
    """The calls in a record file (gzipped if its name ends in ``.gz``).

    A last line cut short by a kill is skipped.
    """
    path = Path(path)
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    calls = []
    for line in text.splitlines():
        try:
            calls.append(RecordedCall(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return calls


class RecordingModel:
    """A model that records every call of the model it wraps (see the module).

    Args:
        model: The model that answers.
        path: A JSON Lines file to append each call to as it ends; `None` keeps them
            in `calls` only.

    Build one with `recording`, which keeps native function calling where the wrapped
    model has it.
    """

    def __init__(self, model: Model, path: str | Path | None = None) -> None:
        self.model = model
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.calls: list[RecordedCall] = []
        """Every recorded call, in the order they ended."""

    @property
    def name(self) -> str:
        """The wrapped model's name."""
        return self.model.name

    async def load(self) -> None:
        """Load the wrapped model, if it loads."""
        load = getattr(self.model, "load", None)
        if load is not None:
            await load()

    @asynccontextmanager
    async def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[ModelStream]:
        """Stream the wrapped model's reply, recording it when the consumer leaves."""
        start = time.perf_counter()
        first: list[float] = []
        outer = ModelStream(no_chunks())
        try:
            async with self.model.stream(messages, settings) as inner:

                async def relay() -> AsyncGenerator[str, None]:
                    async for chunk in inner:
                        if not first:
                            first.append(time.perf_counter() - start)
                        outer.usage = inner.usage
                        yield chunk
                    outer.usage = inner.usage

                outer.chunks = relay()
                try:
                    yield outer
                finally:
                    await outer.chunks.aclose()
            outer.usage = inner.usage
        finally:
            end = time.perf_counter() - start
            self._save(
                call_key(messages, settings), messages, settings, outer.text, outer.usage,
                first[0] if first else end, end,
            )  # fmt: skip

    def _save(
        self,
        key: str,
        messages: Sequence[Any],
        settings: ModelSettings,
        text: str,
        usage: Usage,
        ttft: float,
        seconds: float,
        calls: list[dict[str, str]] | None = None,
    ) -> None:
        call = RecordedCall(
            key,
            _jsonable(list(messages)),
            _jsonable(asdict(settings)),
            text,
            asdict(usage),
            round(ttft, 4),
            round(seconds, 4),
            calls,
        )
        self.calls.append(call)
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(asdict(call)) + "\n")


class RecordingToolModel(RecordingModel):
    """A `RecordingModel` of a model with native function calling."""

    async def call_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        settings: ModelSettings,
    ) -> ToolTurn:
        """One native function-calling turn of the wrapped model, recorded."""
        assert isinstance(self.model, ToolCallingModel)
        start = time.perf_counter()
        turn = await self.model.call_tools(messages, tools, settings)
        seconds = time.perf_counter() - start
        calls = [asdict(call) for call in turn.calls]
        key = call_key(messages, settings, tools)
        self._save(key, messages, settings, turn.text, turn.usage, seconds, seconds, calls)
        return turn


def recording(model: Model, path: str | Path | None = None) -> RecordingModel:
    """A recorder of `model`'s calls, with native function calling if `model` has it."""
    if isinstance(model, ToolCallingModel):
        return RecordingToolModel(model, path)
    return RecordingModel(model, path)


class ReplayModel:
    """Answers calls from a record, paced like an endpoint.

    Each call is looked up by its messages and settings (see `call_key`); the same
    request asked again gets the next recording of it. A call that the record lacks
    raises `ModelError`: a replay reproduces decisions, it does not make new ones.

    Args:
        record: The recorded calls.
        ttft: Seconds before the first chunk of each call.
        tokens_per_second: Decoding speed, over each call's recorded completion
            tokens; `None` streams the text at once.
        name: The model's name in reports; defaults to ``replay:<recorded model>``.
    """

    def __init__(
        self,
        record: Sequence[RecordedCall],
        *,
        ttft: float = 0.0,
        tokens_per_second: float | None = None,
        name: str = "replay",
    ) -> None:
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive")
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self._name = name
        self._calls: dict[str, deque[RecordedCall]] = {}
        for call in record:
            self._calls.setdefault(call.key, deque()).append(call)

    @classmethod
    def load(
        cls, path: str | Path, *, ttft: float = 0.0, tokens_per_second: float | None = None
    ) -> ReplayModel:
        """A replay of the record file at `path`, native tool turns included if any."""
        record = read_record(path)
        kind = ReplayToolModel if any(c.calls is not None for c in record) else ReplayModel
        return kind(record, ttft=ttft, tokens_per_second=tokens_per_second)

    @property
    def name(self) -> str:
        """The name in reports."""
        return self._name

    def _next(self, key: str) -> RecordedCall:
        queue = self._calls.get(key)
        if not queue:
            raise ModelError(f"{self.name}: the record has no (further) call with these messages")
        return queue.popleft()

    def _decode_seconds(self, call: RecordedCall) -> float:
        if not self.tokens_per_second:
            return 0.0
        return call.to_usage().completion_tokens / self.tokens_per_second

    @asynccontextmanager
    async def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[ModelStream]:
        """Stream the recorded reply to these messages, at the set pace."""
        call = self._next(call_key(messages, settings))
        response = ModelStream(no_chunks())
        chunks = self._chunks(call, response)
        response.chunks = chunks
        try:
            yield response
        finally:
            await chunks.aclose()
            response.usage = call.to_usage()  # what the call cost, however far it was read

    async def _chunks(self, call: RecordedCall, response: ModelStream) -> AsyncGenerator[str, None]:
        if self.ttft:
            await asyncio.sleep(self.ttft)
        text, size = call.text, _CHUNK
        pause = self._decode_seconds(call) * size / max(len(text), 1)
        for start in range(0, len(text), size):
            if pause:
                await asyncio.sleep(pause)
            if start + size >= len(text):
                response.usage = call.to_usage()
            yield text[start : start + size]


_CHUNK = 8
"""Characters per replayed chunk."""


class ReplayToolModel(ReplayModel):
    """A `ReplayModel` that also replays native function-calling turns."""

    async def call_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        settings: ModelSettings,
    ) -> ToolTurn:
        """The recorded turn for these messages and tools, after the paced delay."""
        call = self._next(call_key(messages, settings, tools))
        await asyncio.sleep(self.ttft + self._decode_seconds(call))
        calls = tuple(ToolCallRequest(**c) for c in call.calls or ())
        return ToolTurn(call.text, calls, call.to_usage())
