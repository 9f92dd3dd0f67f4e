from __future__ import annotations

from collections import deque

import pytest
import tenacity
from openai_server import OpenAIServer, Reply

from toolweave import Agent, ModelError, TaskState, UserError, tool
from toolweave.models import ModelSettings, OpenAIModel, Usage, resolve_model

MESSAGES = [{"role": "user", "content": "hi"}]


def model_for(server: OpenAIServer, **kwargs: object) -> OpenAIModel:
    return OpenAIModel(
        "scripted", base_url=server.base_url, retry_wait=tenacity.wait_none(), **kwargs
    )  # type: ignore[arg-type]


async def collect(
    model: OpenAIModel, settings: ModelSettings | None = None
) -> tuple[list[str], Usage, str]:
    chunks = []
    async with model.stream(MESSAGES, settings or ModelSettings()) as response:  # type: ignore[arg-type]
        async for chunk in response:
            chunks.append(chunk)
    return chunks, response.usage, response.text


async def test_streams_text_and_usage() -> None:
    async with OpenAIServer(deque([Reply("Hello there, planner!")])) as server:
        settings = ModelSettings(stop=("<END>",), max_tokens=50, temperature=0.2, seed=7)
        chunks, usage, text = await collect(model_for(server), settings)
    assert text == "Hello there, planner!"
    assert len(chunks) == 5
    assert usage == Usage(11, 7)
    (request,) = server.requests
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["stop"] == ["<END>"]
    assert request["max_tokens"] == 50
    assert request["seed"] == 7
    assert request["messages"] == MESSAGES


async def test_usage_is_estimated_when_the_server_reports_none() -> None:
    async with OpenAIServer(deque([Reply("x" * 40, usage=None)])) as server:
        _, usage, _ = await collect(model_for(server))
    assert usage.completion_tokens == 10


async def test_retries_429_and_500_then_succeeds() -> None:
    replies = deque([Reply(status=429), Reply(status=500), Reply("ok")])
    async with OpenAIServer(replies) as server:
        _, _, text = await collect(model_for(server))
    assert text == "ok"
    assert len(server.requests) == 3


async def test_gives_up_with_a_model_error_that_says_what_happened() -> None:
    async with OpenAIServer(deque([Reply(status=503)] * 3)) as server:
        with pytest.raises(ModelError, match=r"HTTP 503 .* after 3 attempt\(s\)"):
            await collect(model_for(server, max_retries=2))
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried() -> None:
    async with OpenAIServer(deque([Reply(status=400), Reply("unused")])) as server:
        with pytest.raises(ModelError, match="HTTP 400"):
            await collect(model_for(server))
    assert len(server.requests) == 1


async def test_a_stream_cut_in_the_middle_is_a_model_error_after_the_chunks() -> None:
    received: list[str] = []
    async with OpenAIServer(deque([Reply("0123456789abcdefghij", cut_after=2)])) as server:
        model = model_for(server)

        async def consume() -> None:
            async with model.stream(MESSAGES, ModelSettings()) as response:  # type: ignore[arg-type]
                async for chunk in response:
                    received.append(chunk)

        with pytest.raises(ModelError, match="stream broke after 10 characters"):
            await consume()
    assert received == ["01234", "56789"]


async def test_a_stream_without_finish_is_a_model_error() -> None:
    async with OpenAIServer(deque([Reply("partial", finish=False)])) as server:
        with pytest.raises(ModelError, match="ended before the model finished"):
            await collect(model_for(server))


async def test_connection_refused_is_retried_then_reported() -> None:
    async with OpenAIServer() as server:
        url = server.base_url
    model = OpenAIModel("x", base_url=url, max_retries=1, retry_wait=tenacity.wait_none())
    with pytest.raises(ModelError, match=r"APIConnectionError .* after 2 attempt"):
        await collect(model)


async def test_a_broken_plan_stream_keeps_dispatched_tasks() -> None:
    ran: list[str] = []

    @tool
    async def lookup(key: str) -> str:
        ran.append(key)
        return key.upper()

    plan = '1. lookup(key="a")\n2. lookup(key="b")\n3. lookup(key="c")\njoin()\n'
    replies = deque([Reply(plan, chunk=19, cut_after=2), Reply("Action: Finish(A and B)")])
    async with OpenAIServer(replies) as server:
        agent = Agent(model_for(server), [lookup])
        result = await agent.run("q")
    assert sorted(ran) == ["a", "b"]
    assert result.answer == "A and B"
    assert {tid: r.state for tid, r in result.tasks.items()} == {
        1: TaskState.SUCCEEDED,
        2: TaskState.SUCCEEDED,
    }
    assert "the plan was cut short" in result.plans[0].rejected[0].reason
    assert "(rejected line)" in server.requests[1]["messages"][-1]["content"]


async def test_model_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    model = resolve_model("openai:qwen@http://127.0.0.1:9/v1")
    assert isinstance(model, OpenAIModel)
    assert model.name == "openai:qwen"
    assert model.base_url.startswith("http://127.0.0.1:9/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match="API key"):
        resolve_model("openai:gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert resolve_model("openai:gpt-4o-mini").name == "openai:gpt-4o-mini"
    with pytest.raises(UserError, match="unknown model"):
        resolve_model("anthropic:claude")
