"""Conversations: earlier turns reach the next run; they persist in SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolweave import Agent, SessionStore, ToolRegistry, UserError, tool
from toolweave.models.testing import ScriptedModel

CALLS: list[str] = []


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country."""
    CALLS.append(country)
    return {"France": 68_000_000, "Italy": 59_000_000}[country]


@tool(read_only=True)
def calculator(expression: str) -> float:
    """Evaluate 'a * b' or 'a + b'."""
    left, op, right = expression.split()
    a, b = float(left), float(right)
    return a * b if op == "*" else a + b


TOOLS = ToolRegistry([population, calculator])


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


def _plan(*lines: str) -> str:
    return "\n".join([*lines, "join()", "<END_OF_PLAN>"])


async def test_a_follow_up_reuses_the_first_turns_value(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            _plan('1. population(country="France")'),
            "Action: Finish(France has 68 million people.)",
            _plan('2. calculator(expression="$1 * 2")'),  # $1: the first turn's value
            "Action: Finish(Twice that is 136 million.)",
        ]
    )
    agent = Agent(model, TOOLS)
    chat = agent.session(store=tmp_path / "chat.sqlite")
    first = await chat.run("What is the population of France?")
    second = await chat.run("And twice that?")
    assert first.answer == "France has 68 million people."
    assert second.answer == "Twice that is 136 million."
    assert second.tasks[2].value == 136_000_000.0
    assert second.tasks[2].args == {"expression": "68000000 * 2"}
    assert CALLS == ["France"]  # no second lookup
    planner_prompt = model.calls[2][-1]["content"]
    assert "Earlier in this conversation:" in planner_prompt
    assert "- Asked: What is the population of France?" in planner_prompt
    assert '$1 = population(country="France") -> 68,000,000' in planner_prompt
    assert "Number your calls from 2" in planner_prompt
    assert "The new question: And twice that?" in planner_prompt
    # the joiner reads the follow-up in its conversation too (it continues the planner's)
    assert model.calls[3][1]["content"] == planner_prompt
    assert [t.request for t in chat.turns] == [
        "What is the population of France?",
        "And twice that?",
    ]
    assert chat.usage == first.usage + second.usage


async def test_a_session_resumed_from_sqlite_in_a_new_agent(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite"
    first_agent = Agent(
        ScriptedModel([_plan('1. population(country="France")'), "Action: Finish(68 million.)"]),
        TOOLS,
    )
    chat = first_agent.session(store=path)
    await chat.run("Population of France?")
    chat.store.close()

    model = ScriptedModel(
        [
            _plan('2. population(country="Italy")', '3. calculator(expression="$1 + $2")'),
            "Action: Finish(127 million together.)",
        ]
    )
    store = SessionStore(path)
    assert [(s.id, s.title, s.turns) for s in store.list()] == [
        (chat.id, "Population of France?", 1)
    ]
    resumed = Agent(model, TOOLS).session(chat.id, store=store)
    result = await resumed.run("And with Italy?")
    assert result.answer == "127 million together."
    assert result.tasks[3].value == 127_000_000.0
    assert CALLS == ["France", "Italy"]
    assert [t.request for t in resumed.turns] == ["Population of France?", "And with Italy?"]
    assert len(SessionStore(path).turns(chat.id)) == 2


async def test_history_is_bounded_oldest_first() -> None:
    model = ScriptedModel(
        [
            _plan('1. population(country="France")'),
            "Action: Finish(68 million.)",
            _plan('2. population(country="Italy")'),
            "Action: Finish(59 million.)",
            _plan('3. calculator(expression="1 + 1")'),
            "Action: Finish(2.)",
        ]
    )
    chat = Agent(model, TOOLS).session(store=":memory:", max_history_tokens=20)
    await chat.run("France?")
    await chat.run("Italy?")
    context = chat.context()
    assert "Italy?" in context.preamble
    assert "France?" not in context.preamble  # the oldest turn went first
    assert set(context.values) == {2}
    await chat.run("One plus one?")
    assert "- Asked: France?" not in model.calls[4][-1]["content"]
    assert "Number your calls from 3" in model.calls[4][-1]["content"]


def test_unknown_session_id(tmp_path: Path) -> None:
    agent = Agent(ScriptedModel([]), TOOLS)
    with pytest.raises(UserError, match="no conversation"):
        agent.session("nope", store=tmp_path / "s.sqlite")
