"""Typed answers: `Agent.run(..., output_type=T)` through the public API."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import BaseModel

from toolweave import Agent, OutputError, ToolRegistry, tool
from toolweave.models.testing import ScriptedModel


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country, in millions."""
    return {"France": 68, "Italy": 59}[country]


TOOLS = ToolRegistry([population])
PLAN = '1. population(country="France")\n2. population(country="Italy")\njoin()\n<END_OF_PLAN>'


class Populations(BaseModel):
    france: int
    italy: int


@dataclasses.dataclass
class Biggest:
    country: str
    millions: int


async def test_pydantic_model_answer() -> None:
    model = ScriptedModel(
        [PLAN, 'Thought: both known.\nAction: Finish({"france": 68, "italy": 59})']
    )
    result = await Agent(model, TOOLS).run("Populations?", output_type=Populations)
    assert result.output == Populations(france=68, italy=59)
    assert result.answer == '{"france": 68, "italy": 59}'
    # the joiner was shown the schema
    joiner_prompt = model.calls[1][-1]["content"]
    assert '"france": {"title": "France", "type": "integer"}' in joiner_prompt


async def test_dataclass_answer_in_a_fenced_block() -> None:
    reply = 'Action: Finish(```json\n{"country": "France", "millions": 68}\n```)'
    model = ScriptedModel([PLAN, reply])
    result = await Agent(model, TOOLS).run("Which is bigger?", output_type=Biggest)
    assert result.output == Biggest("France", 68)


async def test_plain_type_answer() -> None:
    model = ScriptedModel([PLAN, "Thought: add.\nAction: Finish(127)"])
    result = await Agent(model, TOOLS).run("Together, in millions?", output_type=int)
    assert result.output == 127
    assert result.answer == "127"


async def test_a_number_copied_with_its_grouping_is_still_a_number() -> None:
    # the joiner reads results as "5,824,168" (see render_value) and copies that form
    model = ScriptedModel([PLAN, "Thought: add.\nAction: Finish(127,000,000)"])
    result = await Agent(model, TOOLS).run("Together?", output_type=int)
    assert result.output == 127_000_000
    assert len(model.calls) == 2  # no repair needed
    model = ScriptedModel([PLAN, "Action: Finish(1,234.5)"])
    assert (await Agent(model, TOOLS).run("q", output_type=float)).output == 1234.5
    model = ScriptedModel([PLAN, "Action: Finish(127,000,000)"])
    assert (await Agent(model, TOOLS).run("q", output_type=str)).output == "127,000,000"


def test_an_output_type_pydantic_refuses_is_a_user_error_before_any_call() -> None:
    import sys
    from typing import TypedDict

    from toolweave import UserError

    class Row(TypedDict):
        country: str

    model = ScriptedModel([PLAN, 'Action: Finish({"country": "France"})'])
    if sys.version_info >= (3, 12):  # pydantic takes typing.TypedDict from 3.12
        assert Agent(model, TOOLS).run_sync("q", output_type=Row).output == {"country": "France"}
        return
    with pytest.raises(UserError, match=r"typing_extensions\.TypedDict"):
        Agent(model, TOOLS).run_sync("q", output_type=Row)
    assert model.calls == []


async def test_one_repair_with_the_validation_error() -> None:
    model = ScriptedModel(
        [
            PLAN,
            'Action: Finish({"france": "sixty-eight", "italy": 59})',
            'Thought: fixed.\nAction: Finish({"france": 68, "italy": 59})',
        ]
    )
    result = await Agent(model, TOOLS).run("Populations?", output_type=Populations)
    assert result.output == Populations(france=68, italy=59)
    assert [c.role for c in result.calls] == ["planner", "joiner", "joiner"]
    repair = model.calls[2]
    # the repair continues the joiner's conversation: its reply, then the problem
    assert repair[-2] == {
        "role": "assistant",
        "content": 'Action: Finish({"france": "sixty-eight", "italy": 59})',
    }
    assert "france: Input should be a valid integer" in repair[-1]["content"]


async def test_failure_after_the_repair_keeps_the_text() -> None:
    model = ScriptedModel(
        [PLAN, "Action: Finish(about 127 million)", "Action: Finish(127 million)"]
    )
    with pytest.raises(OutputError) as caught:
        await Agent(model, TOOLS).run("Populations?", output_type=Populations)
    error = caught.value
    assert error.text == "127 million"
    assert "Input should be" in error.problem or "Invalid JSON" in error.problem
    assert error.result is not None
    assert error.result.status == "failed"
    assert len(error.result.calls) == 3  # the repair call counts in the usage


async def test_skip_join_validates_the_last_value() -> None:
    model = ScriptedModel([PLAN])
    result = await Agent(model, TOOLS, skip_join=True).run("Italy?", output_type=int)
    assert result.output == 59
