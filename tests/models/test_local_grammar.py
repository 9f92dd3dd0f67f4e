"""The embedded model with the plan grammar and its prefix cache (needs `local`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import typing_extensions

from toolweave import Agent, TaskState, demo, tool
from toolweave.models import LocalModel, ModelSettings
from toolweave.models._greedy import GreedyGrammarSampler
from toolweave.plan import parse_plan, plan_grammar
from toolweave.planner import Planner

pytestmark = [pytest.mark.local_model, pytest.mark.timeout(600)]


class Weather(typing_extensions.TypedDict):
    city: str
    celsius: float
    humidity: float
    wind_kmh: float


@tool(read_only=True)
def weather(city: str) -> Weather:
    """Current weather in a city."""
    return {"city": city, "celsius": 4.0, "humidity": 81.0, "wind_kmh": 12.0}


@tool(read_only=True)
def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert degrees Celsius to Fahrenheit."""
    return celsius * 9 / 5 + 32


@pytest.fixture
def model(local_model: LocalModel) -> LocalModel:
    return local_model


async def test_constrained_plans_parse_and_the_prompt_prefix_is_reused(model: LocalModel) -> None:
    tools = list(demo.TOOLS)
    planner = Planner(model, examples=demo.EXAMPLES)
    settings = ModelSettings(
        stop=planner.settings.stop, max_tokens=200, grammar=plan_grammar(tools).gbnf()
    )
    usages = []
    for question in ("What is the area of Chile?", "Which is larger, Peru or Chile?"):
        messages = planner.messages(question, tools)
        async with model.stream(messages, settings) as response:
            async for _ in response:
                pass
        items = parse_plan(response.text, tools)
        assert items, response.text
        assert all(not isinstance(i, Exception) for i in items), response.text
        assert plan_grammar(tools).accepts(response.text.rstrip() + "\n"), response.text
        usages.append(response.usage)
    # the second plan shares the system prompt with the first: llama.cpp reused it
    assert usages[1].cached_prompt_tokens > 300
    assert usages[1].evaluated_prompt_tokens < 60


async def test_agent_run_on_the_local_model_has_no_rejected_line(model: LocalModel) -> None:
    agent = Agent(model, demo.TOOLS, examples=demo.EXAMPLES, max_replans=1)
    result = await agent.run("What is the combined area of Peru and Chile?")
    assert all(not plan.rejected for plan in result.plans)
    assert result.usage.cached_prompt_tokens > 0


async def test_the_lazy_grammar_writes_what_the_full_mask_writes(
    model: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking only the top token is exact under greedy decoding, rejected tokens too."""
    masked = []
    full_mask = GreedyGrammarSampler._masked_argmax

    def counting(self: GreedyGrammarSampler, logits: Any) -> int:
        masked.append(1)
        return full_mask(self, logits)

    monkeypatch.setattr(GreedyGrammarSampler, "_masked_argmax", counting)
    tools = list(demo.TOOLS)
    planner = Planner(model, examples=demo.EXAMPLES)
    plan = planner.messages("What is the combined population of Chile and Peru?", tools)
    plan_settings = ModelSettings(
        stop=planner.settings.stop, max_tokens=120, grammar=plan_grammar(tools).gbnf()
    )
    # the model would start with "Thought:" or a number: the grammar rejects its top
    # token at the first step, so the whole vocabulary is masked there
    forced = [{"role": "user", "content": "Is Lima the capital of Peru? Explain."}]
    forced_settings = ModelSettings(max_tokens=8, grammar='root ::= "Answer: " ("yes" | "no")\n')

    async def write(messages: list[Any], settings: ModelSettings, *, lazy: bool) -> str:
        model.lazy_grammar = lazy
        async with model.stream(messages, settings) as response:
            async for _ in response:
                pass
        return response.text

    texts: dict[bool, list[str]] = {True: [], False: []}
    try:
        for messages, settings in ((plan, plan_settings), (forced, forced_settings)):
            # a first run leaves the prompt in the prefix cache, so the two compared
            # runs start from the same state: llama.cpp's numbers depend on how much
            # of a prompt it reused, and a near tie (the plan's "Thought: To" against
            # "Thought: Two") then goes either way, grammar or none
            await write(messages, settings, lazy=False)
            for lazy in (True, False):
                texts[lazy].append(await write(messages, settings, lazy=lazy))
    finally:
        model.lazy_grammar = True
    assert texts[True] == texts[False]
    assert masked  # the lazy sampler did mask the vocabulary where it had to
    plan_text, answer = texts[True]
    assert all(not isinstance(i, Exception) for i in parse_plan(plan_text, tools)), plan_text
    assert answer in ("Answer: yes", "Answer: no")


async def test_prompt_lookup_drafts_change_nothing_but_speed(model: LocalModel) -> None:
    tools = list(demo.TOOLS)
    planner = Planner(model, examples=demo.EXAMPLES)
    messages = planner.messages("How much larger is Brazil than Peru, in square miles?", tools)
    plain = ModelSettings(stop=planner.settings.stop, max_tokens=120)
    constrained = replace(plain, grammar=plan_grammar(tools).gbnf())
    replies: dict[int, list[tuple[str, int, int]]] = {}
    try:
        for drafts in (6, 0):
            model.draft_tokens = drafts
            for settings in (plain, constrained):
                async with model.stream(messages, settings) as response:
                    async for _ in response:
                        pass
                usage = response.usage
                replies.setdefault(drafts, []).append(
                    (response.text, usage.prompt_tokens, usage.completion_tokens)
                )
    finally:
        model.draft_tokens = 6
    assert replies[6] == replies[0]
    assert "convert_units(" in replies[6][1][0]


async def test_a_stream_left_early_still_reports_its_usage(model: LocalModel) -> None:
    """The planner stops reading at ``join()``: the call's tokens still count."""
    messages = [{"role": "user", "content": "Count from 1 to 30, one number a line."}]
    async with model.stream(messages, ModelSettings(max_tokens=60)) as response:
        async for _ in response:
            if response.text.count("\n") >= 3:
                break
    assert response.usage.prompt_tokens > 10
    assert 3 <= response.usage.completion_tokens < 60


async def test_a_plan_on_the_local_model_takes_one_field_of_a_record(model: LocalModel) -> None:
    agent = Agent(model, [weather, celsius_to_fahrenheit], max_replans=1)
    result = await agent.run("What is the temperature in Oslo in Fahrenheit?")
    assert all(not plan.rejected for plan in result.plans)
    converted = [
        r.value
        for r in result.tasks.values()
        if r.task.tool == "celsius_to_fahrenheit" and r.state is TaskState.SUCCEEDED
    ]
    assert converted == [39.2], [plan.text for plan in result.plans]
