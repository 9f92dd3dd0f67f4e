"""Conversations: earlier turns reach the next run; they persist in SQLite."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import session_writers

from toolweave import Agent, RunResult, SessionStore, ToolRegistry, UserError, tool
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


# -- two writers on one conversation (issue 29, item 9) --------------------------------

POPULATIONS = {"France": 68_000_000, "Spain": 48_000_000, "Italy": 59_000_000}


@tool(read_only=True)
def double(x: int) -> int:
    """Twice a number."""
    return 2 * x


def _listed_ids(prompt: str) -> list[int]:
    """The `$N` of every earlier result the planner prompt lists, in order."""
    return [int(m) for m in re.findall(r"^\$(\d+) = ", prompt, re.MULTILINE)]


def _named(prompt: str, n: int) -> int:
    """The value the prompt says `$n` holds (the population of the country it names)."""
    (line,) = re.findall(rf"^\${n} = population\(country=\"(\w+)\"\)", prompt, re.MULTILINE)
    return POPULATIONS[line]


async def _follow_up(path: Path, session_id: str) -> tuple[ScriptedModel, RunResult]:
    """A third turn that doubles `$1`: what its planner saw, what it computed."""
    model = ScriptedModel([_plan("3. double(x=$1)"), "Action: Finish(done)"])
    chat = Agent(model, ToolRegistry([double])).session(session_id, store=path)
    return model, await chat.run("Twice the first one?")


def _check_follow_up(model: ScriptedModel, result: RunResult) -> None:
    prompt = model.calls[0][-1]["content"]
    ids = _listed_ids(prompt)
    assert sorted(ids) == [1, 2]  # each earlier value listed once, none twice
    assert "Number your calls from 3" in prompt
    assert result.tasks[3].value == 2 * _named(prompt, 1)  # $1 is what the prompt says


async def test_two_sessions_on_one_id_never_share_a_task_id(tmp_path: Path) -> None:
    """Two writers (two web workers) plan turns at once: both number from 1."""
    path = tmp_path / "chat.sqlite"
    spain_started, france_stored = asyncio.Event(), asyncio.Event()

    @tool(read_only=True)
    async def population(country: str) -> int:
        """Population of a country."""
        if country == "France":
            await spain_started.wait()  # both runs took their context: both number from 1
        else:
            spain_started.set()
            await france_stored.wait()  # Spain's turn is stored second
        return POPULATIONS[country]

    tools = ToolRegistry([population])
    a = Agent(
        ScriptedModel([_plan('1. population(country="France")'), "Action: Finish(68)"]), tools
    )
    b = Agent(ScriptedModel([_plan('1. population(country="Spain")'), "Action: Finish(48)"]), tools)
    chat_a = a.session(store=path)
    chat_b = b.session(chat_a.id, store=path)

    async def france() -> RunResult:
        try:
            return await chat_a.run("France?")
        finally:
            france_stored.set()

    async with asyncio.timeout(10):
        await asyncio.gather(france(), chat_b.run("Spain?"))

    stored = SessionStore(path).turns(chat_a.id)
    ids = [r.task.id for turn in stored for r in turn.results]
    assert sorted(ids) == [1, 2]
    assert {r.task.id: r.value for turn in stored for r in turn.results} == {
        1: 68_000_000,
        2: 48_000_000,
    }
    # the later writer's own Session sees the conversation as stored
    assert [r.task.id for turn in chat_b.turns for r in turn.results] == [1, 2]
    assert len(set(chat_b.context().values)) == 2
    _check_follow_up(*await _follow_up(path, chat_a.id))


async def test_concurrent_runs_on_one_session_are_serialised(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            _plan('1. population(country="France")'),
            "Action: Finish(68 million.)",
            _plan('2. population(country="Italy")'),
            "Action: Finish(59 million.)",
        ]
    )
    chat = Agent(model, TOOLS).session(store=tmp_path / "chat.sqlite")
    async with asyncio.timeout(10):
        first, second = await asyncio.gather(chat.run("France?"), chat.run("Italy?"))
    assert (first.answer, second.answer) == ("68 million.", "59 million.")
    # the second run started after the first was stored: it saw France's value as $1
    second_prompt = model.calls[2][-1]["content"]
    assert _listed_ids(second_prompt) == [1]
    assert "Number your calls from 2" in second_prompt
    assert [[r.task.id for r in t.results] for t in chat.store.turns(chat.id)] == [[1], [2]]


def _turn_in_thread(
    path: Path, session_id: str, country: str, gate: threading.Barrier
) -> RunResult:
    """One writer thread: its own event loop, Agent and Session on the shared file."""

    @tool(read_only=True)
    def population(country: str) -> int:
        """Population of a country."""
        gate.wait(timeout=10)  # both threads planned before either stores its turn
        return POPULATIONS[country]

    model = ScriptedModel([_plan(f'1. population(country="{country}")'), "Action: Finish(ok)"])
    chat = Agent(model, ToolRegistry([population])).session(session_id, store=path)
    return asyncio.run(chat.run(f"{country}?"))


def test_two_threads_writing_one_conversation(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite"
    store = SessionStore(path)
    session_id = store.create()
    store.close()
    gate = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(_turn_in_thread, path, session_id, country, gate)
            for country in ("France", "Spain")
        ]
        for run in runs:
            assert run.result(timeout=30).status == "finished"
    stored = SessionStore(path).turns(session_id)
    assert sorted(r.task.id for turn in stored for r in turn.results) == [1, 2]
    _check_follow_up(*asyncio.run(_follow_up(path, session_id)))


@pytest.mark.slow  # writer processes
@pytest.mark.timeout(120)
def test_two_processes_writing_one_conversation(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite"
    store = SessionStore(path)
    session_id = store.create()
    store.close()
    context = multiprocessing.get_context("spawn")
    gate = context.Barrier(2)
    writers = [
        context.Process(target=session_writers.write_turn, args=(str(path), session_id, c, 1, gate))
        for c in ("France", "Spain")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    stored = SessionStore(path).turns(session_id)
    assert sorted(r.task.id for turn in stored for r in turn.results) == [1, 2]
    _check_follow_up(*asyncio.run(_follow_up(path, session_id)))


def test_a_database_that_already_holds_an_id_twice(tmp_path: Path) -> None:
    """Written by the old code: two turns that both hold a task 1."""
    path = tmp_path / "old.sqlite"
    store = SessionStore(path)
    session_id = store.create()
    for idx, country in enumerate(("France", "Spain")):
        task = {
            "id": 1,
            "call": f'population(country="{country}")',
            "tool": "population",
            "deps": [],
            "state": "succeeded",
            "value": POPULATIONS[country],
            "plan_args": {"country": country},
            "args": {"country": country},
        }
        with sqlite3.connect(path) as db:
            db.execute(
                "insert into turns values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    idx,
                    0.0,
                    f"r{idx}",
                    f"{country}?",
                    "ok",
                    1,
                    1,
                    0.0,
                    json.dumps([task]),
                ),
            )
    store.close()
    _check_follow_up(*asyncio.run(_follow_up(path, session_id)))


def test_one_session_in_two_threads_at_once_is_refused(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    @tool(read_only=True)
    def hold(x: int) -> int:
        """Wait for the test."""
        entered.set()
        release.wait(10)
        return x

    model = ScriptedModel(
        [_plan("1. hold(x=1)"), "Action: Finish(1)", _plan("2. hold(x=$1)"), "Action: Finish(2)"]
    )
    chat = Agent(model, ToolRegistry([hold])).session(store=tmp_path / "chat.sqlite")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(asyncio.run, chat.run("one"))
        assert entered.wait(10)
        with pytest.raises(UserError, match="another thread"):
            asyncio.run(chat.run("two"))  # refused before it plans: nothing is consumed
        release.set()
        assert first.result(10).answer == "1"
    # the other thread's run is over: this thread may use the Session now
    assert asyncio.run(chat.run("three")).answer == "2"
    assert [t.request for t in chat.turns] == ["one", "three"]


async def test_a_store_that_cannot_take_the_turn_fails_the_run_and_keeps_the_answer(
    tmp_path: Path,
) -> None:
    """Found by review: a busy store raised out of the run's end: no RunFinished, no answer."""
    import sqlite3

    from toolweave import StateError
    from toolweave.events import RunFinished

    path = tmp_path / "chat.sqlite"

    @tool(read_only=True)
    async def population(country: str) -> int:
        """Population of a country."""
        return POPULATIONS[country]

    model = ScriptedModel([_plan('1. population(country="France")'), "Action: Finish(68)"])
    chat = Agent(model, ToolRegistry([population])).session(store=SessionStore(path, timeout=0.2))
    holder = sqlite3.connect(path)
    holder.execute("begin immediate")  # another writer holds the database
    finished: list[RunFinished] = []

    async def ask() -> None:
        async with chat.stream("France?") as events:
            async for event in events:
                if isinstance(event, RunFinished):
                    finished.append(event)

    try:
        with pytest.raises(StateError) as caught:
            await ask()
    finally:
        holder.rollback()
        holder.close()
    result = caught.value.result
    assert result is not None
    assert (result.status, result.answer) == ("failed", "68")
    assert len(finished) == 1
