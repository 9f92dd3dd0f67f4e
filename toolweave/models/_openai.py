"""`OpenAIModel`: any OpenAI-compatible Chat Completions endpoint, streamed."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import functools
import os
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import tenacity

from toolweave.errors import ModelError, UserError
from toolweave.models._base import (
    Message,
    ModelSettings,
    ModelStream,
    ToolCallRequest,
    ToolTurn,
    Usage,
    estimate_tokens,
    no_chunks,
)
from toolweave.models._inert import inert_json, inert_messages
from toolweave.models._sse import DONE, SSEDecoder, api_error, drain, read_chunk
from toolweave.redaction import register_secret

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIModel"]

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIModel:
    """A model behind an OpenAI-compatible API: OpenAI, vLLM, Ollama, llama.cpp server.

    Args:
        model: The model id the endpoint knows, e.g. ``gpt-4o-mini``.
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``; defaults to
            ``$OPENAI_BASE_URL``, then OpenAI's.
        api_key: Defaults to ``$OPENAI_API_KEY``; a local server (any `base_url`)
            needs none.
        max_retries: Retries when opening a stream fails with 408/409/429/5xx, a
            timeout or a dropped connection, with exponential backoff and jitter; a
            ``Retry-After`` from the server sets the wait instead (up to
            `max_retry_after` seconds: a longer one ends the call with a `ModelError`).
        timeout: Seconds for each HTTP request.
        retry_wait: The tenacity wait strategy between retries.
        max_retry_after: The longest ``Retry-After`` worth waiting for, in seconds.
        client: An `openai.AsyncOpenAI` client to use as is (its own retries off). Its
            connections belong to the event loop of its first request: use it from
            one loop. Without it, the model makes a client per event loop, so that
            every `Agent.run_sync` (a new loop each) has one of its own.
        grammar: How to send a request's grammar (`ModelSettings.grammar`), for
            servers that constrain decoding: ``"llama.cpp"`` (llama.cpp server's
            ``grammar``) or ``"vllm"`` (vLLM's ``guided_grammar``). Not sent by default:
            OpenAI's API rejects unknown fields.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 3,
        timeout: float = 60.0,
        retry_wait: tenacity.wait.wait_base | None = None,
        max_retry_after: float = 30.0,
        client: openai.AsyncOpenAI | None = None,
        grammar: Literal["llama.cpp", "vllm"] | None = None,
    ) -> None:
        import openai  # imported on use: it takes a while, and few runs need it

        self.model = model
        self.grammar = grammar
        self._given = client
        self.max_retries = max_retries
        self._retry_wait = retry_wait or tenacity.wait_random_exponential(multiplier=0.5, max=8)
        self.max_retry_after = max_retry_after
        if client is None:
            base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
            api_key = api_key or os.environ.get("OPENAI_API_KEY")
            register_secret(api_key)  # every sink hides it
            if api_key is None:
                if base_url is None:
                    raise UserError(
                        "OpenAIModel needs an API key: pass api_key= or set OPENAI_API_KEY "
                        "(or pass base_url= for a local server that needs none)"
                    )
                api_key = "unused"
            self._make: Callable[[], openai.AsyncOpenAI] = functools.partial(
                openai.AsyncOpenAI,
                base_url=base_url,
                api_key=api_key,
                max_retries=0,
                timeout=timeout,
            )
            client = self._make()
        self._spare: openai.AsyncOpenAI | None = client  # for the first loop to ask
        # An httpx client's pooled connections belong to the loop that opened them: a
        # client made here is made again for each loop (run_sync runs a loop per call).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI]
        self._clients = weakref.WeakKeyDictionary()
        self.base_url = str(client.base_url)
        client.chat.completions  # noqa: B018  the client imports its resources lazily

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """The client for the running event loop."""
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client, self._spare = self._spare or self._make(), None
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the running event loop's client and its pooled connections.

        `Agent.run_sync` calls it before its loop ends: connections left open would
        belong to a closed loop. A client given to the model is its owner's to close.
        """
        if self._given is None:
            client = self._clients.pop(asyncio.get_running_loop(), None)
            if client is not None:
                await client.close()

    async def load(self) -> None:
        """Import what the client imports on its first request, now rather than then.

        The first streamed completion of a process would otherwise import the stream
        and response machinery and build their validators, inside the run.
        """
        from openai import _streaming
        from openai.types import chat

        _ = _streaming.AsyncStream  # a stream's chunks are read by `_sse`, not as models
        chat.ChatCompletion.model_validate(_SAMPLE_COMPLETION)

    @property
    def takes_grammar(self) -> bool:
        """Whether requests carry `ModelSettings.grammar` (made with ``grammar=``)."""
        return self.grammar is not None

    @property
    def name(self) -> str:
        """``openai:<model>``."""
        return f"openai:{self.model}"

    def __repr__(self) -> str:
        return f"OpenAIModel({self.model!r}, base_url={self.base_url!r})"

    @asynccontextmanager
    async def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[ModelStream]:
        """Open a streamed completion, retrying transient failures; see `Model.stream`."""
        stream = await self._open(messages, settings)
        prompt_estimate = sum(estimate_tokens(m["content"]) for m in messages)
        response = ModelStream(no_chunks(), Usage(prompt_estimate, 0))
        # A server that ignores max_tokens (or streams forever) is cut off: no real
        # token is longer than 32 characters on average.
        limit = 32 * settings.max_tokens + 256 if settings.max_tokens is not None else None
        chunks = self._chunks(stream, response, limit)
        response.chunks = chunks
        try:
            yield response
        finally:
            await chunks.aclose()
            await stream.close()
            # left before the server's usage chunk (the planner at join(), the joiner
            # after its Action line): count what was read, as estimated
            response.estimate_unreported()

    async def call_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        settings: ModelSettings,
    ) -> ToolTurn:
        """One native function-calling turn (not streamed); see `ToolCallingModel`."""
        kwargs = self._kwargs(messages, settings)
        kwargs |= {"tools": inert_json(list(tools)), "tool_choice": "auto"}
        completion = await self._create(kwargs)
        if not completion.choices:
            raise ModelError(f"{self.name}: the endpoint returned no choice")
        message = completion.choices[0].message
        calls = tuple(
            ToolCallRequest(call.id, call.function.name, call.function.arguments or "{}")
            for call in message.tool_calls or ()
            if getattr(call, "function", None) is not None
        )
        text = message.content or ""
        usage = (
            _usage(completion.usage)
            if completion.usage is not None
            else Usage(
                sum(estimate_tokens(str(m.get("content") or "")) for m in messages),
                estimate_tokens(text + "".join(c.arguments for c in calls)),
            )
        )
        return ToolTurn(text, calls, usage)

    async def _open(self, messages: Sequence[Message], settings: ModelSettings) -> Any:
        kwargs = self._kwargs(messages, settings)
        kwargs |= {"stream": True, "stream_options": {"include_usage": True}}
        return await self._create(kwargs)

    def _kwargs(self, messages: Sequence[Any], settings: ModelSettings) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": inert_messages(messages)}
        if settings.stop:
            kwargs["stop"] = list(settings.stop)
        if settings.max_tokens is not None:
            kwargs["max_tokens"] = settings.max_tokens
        if settings.temperature is not None:
            kwargs["temperature"] = settings.temperature
        if settings.seed is not None:
            kwargs["seed"] = settings.seed
        if settings.grammar is not None and self.grammar is not None:
            field = "grammar" if self.grammar == "llama.cpp" else "guided_grammar"
            kwargs["extra_body"] = {field: settings.grammar}
        return kwargs

    async def _create(self, kwargs: dict[str, Any]) -> Any:
        """``chat.completions.create``, retrying transient failures."""
        import openai

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._client.chat.completions.create(**kwargs)
        except openai.OpenAIError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if isinstance(exc, openai.APIStatusError):
                what, detail = f"HTTP {exc.status_code} from", exc.message
            else:
                what, detail = f"{type(exc).__name__} talking to", str(exc)
            raise ModelError(
                f"{self.name}: {what} {self.base_url} after {attempts} attempt(s): {_short(detail)}"
            ) from exc
        except Exception as exc:  # below the client: its transport, its event loop
            raise ModelError(
                f"{self.name}: {type(exc).__name__} talking to {self.base_url}: {_short(str(exc))}"
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _retryable(self, exc: BaseException) -> bool:
        if not _transient(exc):
            return False
        after = retry_after(exc)
        return after is None or after <= self.max_retry_after

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The server's Retry-After when it gave one, else the backoff strategy's wait."""
        outcome = state.outcome
        after = retry_after(outcome.exception()) if outcome is not None else None
        return after if after is not None else float(self._retry_wait(state))

    async def _chunks(
        self, stream: Any, response: ModelStream, limit: int | None
    ) -> AsyncGenerator[str, None]:
        """The text deltas of an open stream, read off its HTTP response.

        The events are decoded here rather than by the client's `AsyncStream`, which
        builds a pydantic model of every chunk (see `_sse`); errors read the same.
        """
        http = stream.response
        pieces = http.aiter_bytes()
        decoder = SSEDecoder()
        finished = done = False
        received = 0
        try:
            async for piece in pieces:
                for data in decoder.feed(piece):
                    if data.startswith(DONE):
                        done = True
                        break
                    fields = read_chunk(data, http.request)
                    if fields.usage is not None:
                        response.usage = fields.usage
                    finished = finished or fields.finished
                    if delta := fields.text:
                        received += len(delta)
                        if limit is not None and received > limit:
                            raise _Runaway(received)
                        yield delta
                if done:
                    if http.http_version == "HTTP/1.1":  # HTTP/2 keeps its connection anyway
                        await drain(pieces)
                    break
        except _Runaway:
            raise ModelError(
                f"{self.name}: the endpoint kept streaming past max_tokens ({received} "
                "characters); stopped reading"
            ) from None
        except Exception as exc:  # the connection broke mid-stream: httpx, openai, json
            error = api_error(exc, http.request)  # named as the client's stream names it
            raise ModelError(
                f"{self.name}: the stream broke after {received} characters: "
                f"{type(error).__name__}: {_short(str(error))}"
            ) from error
        finally:
            await pieces.aclose()
        if not finished:
            raise ModelError(f"{self.name}: the stream ended before the model finished")
        if response.usage.completion_tokens == 0:  # the server did not report usage
            usage = response.usage
            response.usage = Usage(
                usage.prompt_tokens, estimate_tokens(response.text), usage.cached_prompt_tokens
            )


def _usage(usage: Any) -> Usage:
    """Usage as the endpoint reports it, cached prompt tokens included where it does."""
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0, cached)


_SAMPLE_COMPLETION = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "x",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "x"},
        }
    ],
}


def _transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUS
    return isinstance(exc, openai.APIConnectionError)  # timeouts included


class _Runaway(Exception):
    """The stream went on past what max_tokens allows."""


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked to wait (``Retry-After``, ``retry-after-ms``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max((when - datetime.datetime.now(datetime.UTC)).total_seconds(), 0.0)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
