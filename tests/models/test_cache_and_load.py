"""Cached prompt tokens in `Usage`, grammars sent to servers, and loading up front."""

from __future__ import annotations

from collections import deque

import tenacity
from support.openai_server import OpenAIServer, Reply

from toolweave import Agent, tool
from toolweave.models import ModelSettings, OpenAIModel, Usage
from toolweave.plan import plan_grammar
from toolweave.planner import finish_grammar


@tool(read_only=True)
def lookup(key: str) -> str:
    """Look a key up."""
    return key.upper()


def model_for(server: OpenAIServer, **kwargs: object) -> OpenAIModel:
    return OpenAIModel(
        "scripted", base_url=server.base_url, retry_wait=tenacity.wait_none(), **kwargs
    )  # type: ignore[arg-type]


def test_usage_adds_up_and_splits_cached_from_evaluated() -> None:
    total = Usage(100, 10, 80) + Usage(50, 5, 0)
    assert total == Usage(150, 15, 80)
    assert total.evaluated_prompt_tokens == 70


async def test_run_reports_cached_prompt_tokens_from_the_endpoint() -> None:
    replies = deque(
        [
            Reply('1. lookup(key="a")\njoin()\n', usage=(900, 12), cached=768),
            Reply("Action: Finish(A)", usage=(300, 4), cached=256),
        ]
    )
    async with OpenAIServer(replies) as server:
        agent = Agent(model_for(server, grammar="llama.cpp"), [lookup])
        await agent.load()
        await agent.load()  # a second call does nothing
        result = await agent.run("q")
    assert result.answer == "A"
    assert result.usage == Usage(1200, 16, 1024)
    assert result.to_dict()["usage"]["evaluated_prompt_tokens"] == 176
    assert [c.usage.cached_prompt_tokens for c in result.calls] == [768, 256]
    planner_request, joiner_request = server.requests
    # the grammars, in llama.cpp server's field: the plan's, then, since the one-call
    # plan converges into its value, an answer without a Thought line
    assert planner_request["grammar"] == plan_grammar([lookup], first_id=1).gbnf()
    assert joiner_request["grammar"] == finish_grammar(thought=False)


async def test_a_reply_left_after_its_action_still_counts_its_tokens() -> None:
    """The joiner stops reading after its Action line, before the server's usage chunk."""
    rest = "\nIf the results cannot answer it, reply:\nAction: Replan(<why>)" * 20
    replies = deque(
        [
            Reply('1. lookup(key="a")\n2. lookup(key="b")\njoin()\n', usage=(900, 12)),
            Reply("Thought: both.\nAction: Finish(A and B)" + rest, usage=(300, 400)),
        ]
    )
    async with OpenAIServer(replies) as server:
        result = await Agent(model_for(server), [lookup]).run("q")
    assert result.answer == "A and B"
    joiner = result.calls[1]
    assert joiner.text.startswith("Thought: both.\nAction: Finish(A and B)\n")
    assert "Replan" not in joiner.text
    assert 0 < joiner.usage.completion_tokens < 400  # estimated from what was read
    assert joiner.usage.prompt_tokens > 0


async def test_grammar_is_not_sent_unless_asked_for() -> None:
    async with OpenAIServer(deque([Reply("x"), Reply("y")])) as server:
        for option in (None, "vllm"):
            model = model_for(server, grammar=option)
            async with model.stream(
                [{"role": "user", "content": "hi"}], ModelSettings(grammar='root ::= "x"')
            ) as response:
                async for _ in response:
                    pass
    plain, vllm = server.requests
    assert "grammar" not in plain
    assert "guided_grammar" not in plain
    assert vllm["guided_grammar"] == 'root ::= "x"'
