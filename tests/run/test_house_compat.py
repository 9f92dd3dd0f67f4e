"""Behaviour the house refactor (issue 30) kept, found by a review of the move.

Each test goes through the public API only (names that exist before and after the
move), so that it runs against the tree before it too: the model named as it is when a
run starts, an agent's limits as attributes, warm-up, prices for ``max_cost``, spans
without package metadata, a session's agent.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from toolweave import Agent, BudgetExceeded, Tool, ToolRegistry, UserError, tool
from toolweave.events import Event, RunFinished, RunStarted, TaskStarted
from toolweave.executor import LocalExecutor
from toolweave.models.testing import ScriptedModel
from toolweave.planner import Planner


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country, in millions."""
    return {"France": 68, "Spain": 48}[country]


@tool(read_only=True)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


TOOLS = ToolRegistry([population, add])
PLAN = (
    '1. population(country="France")\n2. population(country="Spain")\n3. add(a=$1, b=$2)\njoin()\n'
)
FINISH = "Action: Finish(116 million)"


class LoadedName(ScriptedModel):
    """A model whose name is known once loaded, as `LocalModel`'s.

    ``LocalModel()`` is named ``local:qwen2.5-coder-1.5b-instruct`` until it loads,
    then after the file it loaded (``local:qwen2.5-coder-1.5b-instruct-q4_k_m``, or the
    stem of ``$TOOLWEAVE_MODEL_PATH``'s file): the CLI loads it before the first run.
    """

    def __init__(self, responses: Sequence[str]) -> None:
        super().__init__(responses)
        self.loaded = False

    @property
    def name(self) -> str:
        return "local:the-loaded-file" if self.loaded else "local:before-load"

    async def load(self) -> None:
        self.loaded = True


class WrappedPlanner:
    """A planner given to the Agent (not a `Planner`), with a `model` of its own."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._inner = Planner(model)

    def plan(self, request: str, tools: Sequence[Tool], **kwargs: Any) -> Any:
        return self._inner.plan(request, tools, **kwargs)


# -- finding 1 (fails now): the model's name is read when the run happens, not when the
# agent was made (RunConfig.model/models and the span recorder's names are frozen)


async def test_a_run_names_the_model_as_it_is_when_the_run_starts() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    model = LoadedName([PLAN, FINISH])
    agent = Agent(model, TOOLS, tracer_provider=provider)
    await agent.load()  # as the CLI and the REPL do before the first run
    events: list[Event] = []
    async with agent.stream("France and Spain together?") as stream:
        async for event in stream:
            events.append(event)
    started = next(e for e in events if isinstance(e, RunStarted))
    result = stream.result
    assert result.status == "finished"
    assert started.model == model.name == "local:the-loaded-file"
    assert {call.model for call in result.calls} == {"local:the-loaded-file"}
    chats = {span.name for span in exporter.get_finished_spans() if span.name.startswith("chat")}
    assert chats == {"chat the-loaded-file"}  # the span names the model without its kind


# -- finding 2 (fails now): the agent's limits were attributes, read live by each run


def test_the_agents_limits_are_still_attributes() -> None:
    agent = Agent(ScriptedModel([]), TOOLS, max_replans=1, time_limit=30.0, skip_join=True)
    limits = (agent.max_replans, agent.time_limit, agent.skip_join)
    assert limits == (1, 30.0, True)


async def test_setting_a_limit_on_the_agent_is_not_silently_ignored() -> None:
    # Before the move the run read `agent.skip_join` (and every other limit) live:
    # setting it after construction took effect. Now the value is frozen in the
    # RunConfig and the assignment just adds an unused attribute.
    agent = Agent(ScriptedModel([PLAN]), TOOLS)  # no joiner reply scripted
    try:
        agent.skip_join = True
    except AttributeError:
        return  # a loud refusal would also do: no silent no-op
    result = await agent.run("France and Spain together?")
    assert result.answer == "116"


# -- finding 3 (fails now): warm_up builds no retriever it does not use


def _many_tools(count: int) -> ToolRegistry:
    def make(name: str) -> Tool:
        def fn(summary: str) -> str:
            return name

        schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
        return Tool.from_schema(name, f"Something about gardening {name}.", schema, fn)

    return ToolRegistry([make(f"garden_{i}") for i in range(count)])


async def test_warm_up_with_a_planner_of_ones_own_builds_no_retriever(tmp_path: Path) -> None:
    model = ScriptedModel([])
    index = tmp_path / "index"
    agent = Agent(model, _many_tools(35), planner=WrappedPlanner(model), index_path=index)
    await agent.warm_up()  # nothing to send: a custom planner, a joiner that continues it
    assert model.calls == []
    assert not index.exists()  # no retriever was built (it takes seconds, and writes)


# -- finding 4 (fails now): max_cost requires the prices it required before


def test_max_cost_checks_the_prices_it_checked_before() -> None:
    # Before: the prices required were those of the agent's model and of a `Planner`'s or
    # `Joiner`'s; a planner object of one's own with a `model` was not required.
    agent_model = ScriptedModel([], name="local:here")
    own = ScriptedModel([], name="openai:no-such-priced-model")
    Agent(agent_model, TOOLS, planner=WrappedPlanner(own), max_cost=1.0)


# -- finding 5 (fails now): spans without the distribution's metadata


async def test_spans_do_not_need_the_distributions_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """toolweave imported from a source tree (PYTHONPATH, vendored): no dist-info."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "toolweave":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    agent = Agent(ScriptedModel([PLAN, FINISH]), TOOLS, tracer_provider=provider)
    result = await agent.run("France and Spain together?")
    assert result.answer == "116 million"
    assert exporter.get_finished_spans()


# -- finding 6 (fails now): `Session.agent` was renamed `Session.runner`


def test_a_session_still_names_its_agent() -> None:
    agent = Agent(ScriptedModel([]), TOOLS)
    chat = agent.session(store=":memory:")
    assert chat.agent is agent


# -- pinned: unchanged behaviour of the run's end ----------------------------------------


async def test_the_time_limit_skips_what_runs_and_rundfinished_comes_last() -> None:
    gate = asyncio.Event()

    @tool(read_only=True)
    async def slow(country: str) -> int:
        """Never answers in time."""
        await gate.wait()
        return 1

    agent = Agent(ScriptedModel(['1. slow(country="France")\njoin()\n']), [slow], time_limit=0.2)
    events: list[Event] = []

    async def consume() -> None:
        async with agent.stream("slow?") as stream:
            async for event in stream:
                events.append(event)

    with pytest.raises(BudgetExceeded, match=r"time limit of 0\.2s") as caught:
        await consume()
    result = caught.value.result
    assert result is not None
    assert result.status == "budget_exceeded"
    last = events[-1]
    assert isinstance(last, RunFinished)
    assert last.result is result
    assert isinstance(events[0], RunStarted)
    assert any(isinstance(e, TaskStarted) for e in events)
    (record,) = result.tasks.values()
    assert record.state.value == "skipped"
    assert record.reason == "not finished: the run's time limit of 0.2s was reached"
    assert [c.model for c in result.calls] == ["scripted"]  # priced before RunFinished


def test_agent_construction_errors_come_in_the_same_order() -> None:
    model = ScriptedModel([])
    with pytest.raises(UserError, match="max_replans must be >= 0"):
        Agent(model, [], max_replans=-1, max_tokens=0, top_k=0)
    with pytest.raises(UserError, match="max_tokens must be positive, not 0"):
        Agent(model, [], max_tokens=0, time_limit=0, top_k=0)
    with pytest.raises(UserError, match="max_concurrency must be positive"):
        Agent(model, [], max_concurrency=0, top_k=0)
    with pytest.raises(UserError, match="top_k must be positive"):
        Agent(model, [], top_k=0)
    with pytest.raises(UserError, match="needs at least one tool"):
        Agent(model, [], max_cost=1.0, prices={})
    executor = LocalExecutor()
    with pytest.raises(UserError, match="index_path is for the retriever"):
        Agent(
            model,
            TOOLS,
            executor=executor,
            approve=lambda t, a: True,
            retriever=object(),  # type: ignore[arg-type]
            index_path="x",
            max_cost=1.0,
        )
    executor.close()
    with pytest.raises(UserError, match="max_cost needs a price for openai:unpriced"):
        Agent(ScriptedModel([], name="openai:unpriced"), TOOLS, max_cost=1.0)


# -- pinned: close keeps the caller's ledger, closes its own; resume claims once ----------


@tool(destructive=True)
def delete(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


async def test_close_closes_the_agents_own_ledger_only_and_resume_claims_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from toolweave import ResumeLedger

    monkeypatch.setenv("TOOLWEAVE_STATE", str(tmp_path / "state"))
    plan = '1. delete(path="/tmp/x")\njoin()\n'
    given = ResumeLedger(":memory:")
    agent = Agent(
        ScriptedModel([plan, "Action: Finish(gone)"]),
        [delete],
        approve="pause",
        resume_ledger=given,
    )
    paused = await agent.run("delete it")
    assert paused.status == "paused"
    assert [c.id for c in paused.pending] == [1]
    done = await agent.resume(paused, approvals={1: True})
    assert done.answer == "gone"
    assert not given.claim(paused.pause_id or "", "again")  # claimed by the resume
    agent.close()
    assert given.claim("another pause", "r")  # the caller's ledger stays open

    own = Agent(ScriptedModel([]), [delete])
    ledger = own.resume_ledger  # the state directory's, opened on first use
    own.close()
    with pytest.raises(sqlite3.ProgrammingError):
        ledger.claim("p", "r")
    assert own.resume_ledger is not ledger  # opened again when next needed
    own.close()


# -- pinned: a tool source that opens for the run gives its tools to the run and the joiner --


@tool(read_only=True)
def capital(country: str) -> str:
    """The capital city of a country."""
    return {"France": "Paris"}[country]


class LateSource:
    """A tool source whose tools appear when it opens (as an MCP server's)."""

    name = "geo"

    def __init__(self) -> None:
        self._tools: list[Tool] = []
        self._listeners: list[Any] = []

    @property
    def tools(self) -> Sequence[Tool]:
        return self._tools

    async def open(self) -> None:
        self._tools = [capital]

    async def aclose(self) -> None:
        self._tools = []

    def subscribe(self, callback: Any) -> None:
        self._listeners.append(callback)


async def test_a_sources_tools_reach_the_run_and_the_joiner_once_open() -> None:
    model = ScriptedModel(['1. capital(country="France")\njoin()\n', "Action: Finish(Paris)"])
    agent = Agent(model, [population, LateSource()])
    assert [t.name for t in agent.joiner.tools] == ["population"]
    events: list[Event] = []
    async with agent.stream("Capital of France?") as stream:
        async for event in stream:
            events.append(event)
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.tools == ("population", "capital")
    assert stream.result.answer == "Paris"
    assert stream.result.tasks[1].value == "Paris"
    assert [t.name for t in agent.joiner.tools] == ["population", "capital"]
    assert "The capital city of a country." in model.calls[0][0]["content"]  # offered to the plan


async def test_warm_up_sends_no_planner_prefix_with_a_retriever_even_an_empty_one() -> None:
    from toolweave.retrieval import Retriever

    model = ScriptedModel(["x"])
    agent = Agent(model, TOOLS, retriever=Retriever([]))  # no tools indexed: len() is 0
    await agent.warm_up()
    assert model.calls == []  # with a retriever the planner's tool list varies
    agent.close()

    warm = ScriptedModel(["x"])
    plain = Agent(warm, TOOLS)
    await plain.warm_up()
    assert len(warm.calls) == 1  # the planner's stable prefix, once
    plain.close()
