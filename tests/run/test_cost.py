"""The cost ledger: prices per model, cost per call, run and conversation; money budgets."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from toolweave import Agent, BudgetExceeded, Price, PriceTable, ToolRegistry, tool
from toolweave.cost import FREE, PRICES
from toolweave.evals.report import report
from toolweave.evals.runner import run_eval
from toolweave.evals.simulate import Simulation
from toolweave.models import Message, ModelSettings, Usage
from toolweave.models.testing import FunctionModel, ScriptedModel, estimate_tokens


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country, in millions."""
    return {"France": 68, "Italy": 59}[country]


TOOLS = ToolRegistry([population])
PLAN = '1. population(country="France")\njoin()\n<END_OF_PLAN>'
FINISH = "Action: Finish(68 million.)"


async def test_cost_of_a_scripted_run_from_a_price_table() -> None:
    model = ScriptedModel([PLAN, FINISH], name="acme-large")
    agent = Agent(model, TOOLS, prices={"acme-large": Price(2.0, 1.0, 8.0)})
    result = await agent.run("France?")
    planner, joiner = result.calls
    assert planner.model == joiner.model == "acme-large"
    # the scripted model counts four characters a token; the planner's reply stops
    # before <END_OF_PLAN>, as an endpoint's stop sequence does
    prompt = sum(estimate_tokens(m["content"]) for m in model.calls[0])
    completion = estimate_tokens(PLAN.removesuffix("<END_OF_PLAN>"))
    assert planner.usage == Usage(prompt, completion)
    assert planner.cost == pytest.approx((prompt * 2.0 + completion * 8.0) / 1e6)
    assert joiner.cost is not None
    assert result.cost == pytest.approx(planner.cost + joiner.cost)
    data = result.to_dict()
    assert data["cost"] == pytest.approx(result.cost)
    assert [c["cost"] for c in data["calls"]] == [planner.cost, joiner.cost]


async def test_conversation_totals() -> None:
    model = ScriptedModel([PLAN, FINISH, PLAN.replace("1.", "2."), FINISH], name="gpt-4o-mini")
    chat = Agent(model, TOOLS).session(store=":memory:")
    first = await chat.run("France?")
    second = await chat.run("France again?")
    assert first.cost > 0  # priced from the built-in table
    assert chat.cost == pytest.approx(first.cost + second.cost)
    assert chat.turns[0].cost == pytest.approx(first.cost)


async def test_unknown_price_is_none_not_zero() -> None:
    result = await Agent(ScriptedModel([PLAN, FINISH], name="mystery"), TOOLS).run("France?")
    assert [c.cost for c in result.calls] == [None, None]
    assert result.cost == 0.0


def test_price_table_lookup() -> None:
    table = PriceTable({"openai:my-model": Price(1.0, output=3.0)})
    assert table.lookup("openai:my-model@http://127.0.0.1:8000/v1") == Price(1.0, None, 3.0)
    assert table.lookup("openai:gpt-4o-mini-2024-07-18") == PRICES["gpt-4o-mini"]  # by prefix
    assert table.lookup("openai:gpt-4o") == PRICES["gpt-4o"]
    assert table.lookup("local:qwen2.5-coder-1.5b-instruct") is FREE
    assert table.cost("local", Usage(10_000, 500)) == 0.0  # the local model costs nothing
    assert table.lookup("openai:unheard-of") is None
    assert PriceTable(builtin=False).lookup("gpt-4o") is None


@dataclasses.dataclass(frozen=True, slots=True)
class CachedUsage(Usage):
    """Usage with cached prompt tokens, as endpoints with prefix caching report it."""

    cached_tokens: int = 0


def test_cached_prompt_tokens_are_priced_apart() -> None:
    price = Price(input=2.0, cached_input=0.5, output=10.0)
    usage = CachedUsage(1_000_000, 100_000, cached_tokens=600_000)
    assert math.isclose(price.cost(usage), 0.4 * 2.0 + 0.6 * 0.5 + 0.1 * 10.0)
    # without a cached price, cached tokens cost as the others
    assert math.isclose(Price(2.0, output=10.0).cost(usage), 2.0 + 1.0)


async def test_a_budget_in_money() -> None:
    model = ScriptedModel([PLAN, FINISH], name="pricey")
    agent = Agent(model, TOOLS, prices={"pricey": Price(1_000.0, output=1_000.0)}, max_cost=0.01)
    with pytest.raises(BudgetExceeded, match=r"over its limit of 0\.01") as caught:
        await agent.run("France?")
    assert caught.value.result is not None
    assert caught.value.result.status == "budget_exceeded"
    assert caught.value.result.cost > 0.01


async def test_the_eval_report_shows_cost(tmp_path: Path) -> None:
    def respond(messages: list[Message], settings: ModelSettings) -> str:
        if "Write a plan" in messages[0]["content"]:
            return "join()\n<END_OF_PLAN>"
        return "Action: Finish(nothing to do)"

    model = FunctionModel(respond, name="openai:gpt-4o-mini")
    await run_eval(
        "restbench", ["llmcompiler"], model, tmp_path, limit=2, simulation=Simulation(latency=0)
    )
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    for row in rows:
        usage = Usage(row["prompt_tokens"], row["completion_tokens"])
        assert row["cost"] == pytest.approx(PRICES["gpt-4o-mini"].cost(usage))
    data = report(tmp_path)
    assert data["restbench"]["llmcompiler"]["cost"]["mean"] > 0
    assert "| cost |" in (tmp_path / "report.md").read_text()
