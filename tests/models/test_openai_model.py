from __future__ import annotations

from collections import deque

import httpx2
import openai
import pytest
import tenacity
from support.openai_server import OpenAIServer, Reply, ThreadedServer

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


async def test_a_broken_plan_stream_keeps_dispatched_tasks_and_fails_the_run() -> None:
    ran: list[str] = []

    @tool
    async def lookup(key: str) -> str:
        ran.append(key)
        return key.upper()

    plan = '1. lookup(key="a")\n2. lookup(key="b")\n3. lookup(key="c")\njoin()\n'
    replies = deque([Reply(plan, chunk=19, cut_after=2), Reply("Action: Finish(A and B)")])
    async with OpenAIServer(replies) as server:
        agent = Agent(model_for(server), [lookup])
        with pytest.raises(ModelError, match="the stream broke") as caught:
            await agent.run("q")
    assert sorted(ran) == ["a", "b"]
    result = caught.value.result
    assert result is not None
    assert (result.status, result.answer) == ("failed", None)
    assert {tid: r.state for tid, r in result.tasks.items()} == {
        1: TaskState.SUCCEEDED,
        2: TaskState.SUCCEEDED,
    }
    assert len(server.requests) == 1  # the joiner was not asked to answer a broken plan


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


def test_run_sync_twice_on_one_endpoint_answers_both() -> None:
    """Each `run_sync` is a new event loop: the client must not stay bound to the first."""

    @tool
    async def lookup(key: str) -> str:
        return key.upper()

    plan = '1. lookup(key="a")\njoin()\n'
    replies = deque(
        [Reply(plan), Reply("Action: Finish(A)"), Reply(plan), Reply("Action: Finish(A)")]
    )
    with ThreadedServer(replies, keep_alive=True) as server:  # as llama.cpp's server does
        agent = Agent(model_for(server), [lookup])
        first = agent.run_sync("q")
        second = agent.run_sync("q")
    assert (first.status, first.answer) == ("finished", "A")
    assert (second.status, second.answer) == ("finished", "A")
    assert second.tasks[1].value == "A"
    assert len(server.requests) == 4


async def test_a_plan_that_breaks_for_a_transport_error_fails_the_run() -> None:
    """A plan cut short by the endpoint is no result to answer from: no joiner, no answer."""

    @tool
    async def lookup(key: str) -> str:
        return key.upper()

    class FirstFails(httpx2.AsyncHTTPTransport):  # below the openai client, as a closed loop
        calls = 0

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            FirstFails.calls += 1
            if FirstFails.calls == 1:
                raise RuntimeError("Event loop is closed")
            return await super().handle_async_request(request)

    async with OpenAIServer(deque([Reply("Action: Finish(147.0 people/km²)")])) as server:
        client = openai.AsyncOpenAI(
            base_url=server.base_url,
            api_key="x",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=FirstFails()),
        )
        agent = Agent(OpenAIModel("x", client=client), [lookup])
        with pytest.raises(ModelError, match="Event loop is closed") as caught:
            await agent.run("What is Japan's population density?")
    assert server.requests == []  # the joiner was never asked to make something up
    result = caught.value.result
    assert result is not None
    assert (result.status, result.answer) == ("failed", None)


async def test_a_planner_that_breaks_fails_the_run_as_a_bug_not_a_model_error() -> None:
    @tool
    async def lookup(key: str) -> str:
        return key.upper()

    def broken(messages: list[dict[str, str]], settings: object) -> str:
        raise KeyError("a plug-in's bug")

    from toolweave import ToolweaveError
    from toolweave.models.testing import FunctionModel

    agent = Agent(FunctionModel(broken), [lookup])
    with pytest.raises(ToolweaveError, match="KeyError") as caught:
        await agent.run("q")
    assert not isinstance(caught.value, ModelError)
    assert caught.value.result is not None
    assert caught.value.result.status == "failed"
    assert [c.role for c in caught.value.result.calls] == ["planner"]  # no joiner
