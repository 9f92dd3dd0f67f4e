"""Reading a streamed completion off the wire: the SSE decoder, the chunks, the model."""

from __future__ import annotations

import json
from collections import deque

import httpx2
import openai
import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st
from support.openai_server import OpenAIServer, Reply

from toolweave import ModelError
from toolweave.models import ModelSettings, OpenAIModel, Usage
from toolweave.models._sse import SSEDecoder, read_chunk
from toolweave.models.testing import ScriptedModel
from toolweave.planner import Planner
from toolweave.tools import tool

MESSAGES = [{"role": "user", "content": "hi"}]
REQUEST = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def reference(stream: bytes) -> list[bytes]:
    """The data of each event, by the WHATWG rules read literally (one line at a time)."""
    text = stream.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    *lines, _ = text.split(b"\n")  # what follows the last line end is not a line yet
    out: list[bytes] = []
    data: list[bytes] | None = None
    for line in lines:
        if not line:
            if data is not None:
                out.append(b"\n".join(data))
            data = None
            continue
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data = [*(data or []), value]
    return out


LINE = st.one_of(
    st.builds(
        lambda v: b"data: " + v,
        st.binary(max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b),
    ),
    st.sampled_from(
        [
            b"data:x",
            b"data",
            b"data:  two",
            b": a comment",
            b"event: e",
            b"id: 7",
            b"retry: 3",
            b"",
            b"dataX: no",
        ]
    ),
)
ENDING = st.sampled_from([b"\n", b"\r\n", b"\r"])


@given(st.lists(st.tuples(LINE, ENDING), max_size=12), st.lists(st.integers(0, 200), max_size=8))
def test_any_split_of_a_stream_gives_the_events_of_the_whole(
    lines: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(line + end for line, end in lines)
    points = sorted({min(c, len(stream)) for c in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    decoder = SSEDecoder()
    assert [data for piece in pieces for data in decoder.feed(piece)] == reference(stream)


def test_a_crlf_split_between_pieces_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [b"a\nb"]


def test_a_chunk_gives_its_text_its_end_and_its_usage() -> None:
    fields = read_chunk(
        b'{"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}', REQUEST
    )
    assert (fields.text, fields.finished, fields.usage) == ("Hi", False, None)
    fields = read_chunk(
        b'{"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4,'
        b' "prompt_tokens_details": {"cached_tokens": 5}}}',
        REQUEST,
    )
    assert (fields.text, fields.finished, fields.usage) == ("", False, Usage(9, 4, 5))
    fields = read_chunk(b'{"choices": [{"index": 0, "finish_reason": "stop"}]}', REQUEST)
    assert (fields.text, fields.finished) == ("", True)
    fields = read_chunk(
        b'{"choices": [{"delta": {"content": null, "role": "assistant"}}]}', REQUEST
    )
    assert fields.text == ""


def test_an_error_in_the_stream_raises_as_the_client_would() -> None:
    with pytest.raises(openai.APIError, match="overloaded"):
        read_chunk(b'{"error": {"message": "overloaded", "type": "server_error"}}', REQUEST)
    with pytest.raises(openai.APIError, match="An error occurred during streaming"):
        read_chunk(b'{"error": "bad"}', REQUEST)
    with pytest.raises(ValueError, match="not a JSON object"):
        read_chunk(b"[1, 2]", REQUEST)
    with pytest.raises(json.JSONDecodeError):
        read_chunk(b'{"choices": [{"del', REQUEST)


def model_for(server: OpenAIServer, **kwargs: object) -> OpenAIModel:
    return OpenAIModel(
        "scripted", base_url=server.base_url, retry_wait=tenacity.wait_none(), **kwargs
    )  # type: ignore[arg-type]


async def collect(model: OpenAIModel) -> tuple[list[str], Usage]:
    chunks = []
    async with model.stream(MESSAGES, ModelSettings()) as response:  # type: ignore[arg-type]
        async for chunk in response:
            chunks.append(chunk)
    return chunks, response.usage


async def test_an_error_event_mid_stream_is_a_model_error_with_the_servers_message() -> None:
    error = '{"error": {"message": "the model is overloaded", "type": "server_error"}}'
    async with OpenAIServer(deque([Reply("0123456789", garbage=error, garbage_after=1)])) as server:
        with pytest.raises(
            ModelError, match="stream broke after 5 characters: APIError: the model is overloaded"
        ):
            await collect(model_for(server))


async def test_the_connection_is_kept_for_the_next_request() -> None:
    """The rest of the body after [DONE] is read, so that HTTP/1.1 can reuse the connection."""
    async with OpenAIServer(deque([Reply("first"), Reply("second")]), keep_alive=True) as server:
        model = model_for(server)
        assert (await collect(model)) == (["first"], Usage(11, 7))
        assert (await collect(model)) == (["secon", "d"], Usage(11, 7))
        await model.aclose()
    assert server.connections == 1


async def test_cached_prompt_tokens_come_from_the_stream() -> None:
    async with OpenAIServer(deque([Reply("ok", cached=6)])) as server:
        _, usage = await collect(model_for(server))
    assert usage == Usage(11, 7, 6)


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key


async def test_a_plan_grammar_is_written_only_for_a_model_that_takes_one() -> None:
    assert OpenAIModel("m", base_url="http://127.0.0.1:9/v1").takes_grammar is False
    assert OpenAIModel("m", base_url="http://127.0.0.1:9/v1", grammar="vllm").takes_grammar

    class Ignores(ScriptedModel):
        takes_grammar = False

    plan = '1. lookup(key="a")\njoin()'
    for model, grammar in ((ScriptedModel([plan]), True), (Ignores([plan]), False)):
        draft = Planner(model).plan("q", [lookup])
        assert [item async for item in draft] == draft.tasks
        assert (model.settings[0].grammar is not None) is grammar
