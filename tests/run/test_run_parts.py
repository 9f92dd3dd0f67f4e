"""The run loop's parts, each tested without an Agent: limits, config, recorder, budget."""

from __future__ import annotations

import asyncio

import pytest

from toolweave import (
    Agent,
    BudgetExceeded,
    Limits,
    TaskState,
    Tool,
    ToolRegistry,
    UserError,
    tool,
)
from toolweave._run import Run, RunConfig, RunModels, ToolOffer
from toolweave._run._budget import Budget
from toolweave._run._recorder import Recorder
from toolweave.cost import Price, PriceTable
from toolweave.errors import ApprovalPending, ToolError
from toolweave.events import (
    ApprovalRequested,
    Event,
    RunFinished,
    TaskFailed,
    TaskPlanned,
    TaskStarted,
    TaskSucceeded,
)
from toolweave.executor import LocalExecutor
from toolweave.models import Usage
from toolweave.models.testing import ScriptedModel
from toolweave.plan import PlanTask
from toolweave.planner import Joiner, Planner
from toolweave.result import ModelCall, RunResult


@tool(read_only=True)
async def population(country: str) -> int:
    """Population of a country, in millions."""
    await asyncio.sleep(0)
    return {"France": 68, "Spain": 48}[country]


TOOLS = ToolRegistry([population])
PLAN = '1. population(country="France")\n2. population(country="Spain")\njoin()\n'


def _config(model: ScriptedModel, limits: Limits | None = None) -> RunConfig:
    planner, joiner = Planner(model), Joiner(model, tools=list(TOOLS))
    return RunConfig(
        planner=planner,
        joiner=joiner,
        executor=LocalExecutor(),
        tools=TOOLS,
        offer=ToolOffer(TOOLS, model),
        limits=limits or Limits(),
        prices=PriceTable(),
        models=RunModels(model, planner, joiner),
    )


async def test_a_run_needs_no_agent_only_its_config() -> None:
    model = ScriptedModel([PLAN, "Action: Finish(116 million)"])
    events: list[Event] = []
    result = await Run(_config(model), "France and Spain?", events.append).run()
    assert result.status == "finished"
    assert result.answer == "116 million"
    assert {r.value for r in result.tasks.values()} == {68, 48}
    assert isinstance(events[-1], RunFinished)
    assert events[-1].result is result


async def test_a_run_keeps_to_the_limits_it_is_given_not_the_configs() -> None:
    model = ScriptedModel([PLAN, "Action: Finish(116 million)"])
    config = _config(model)
    with pytest.raises(BudgetExceeded, match="more than 1 tasks") as caught:
        await Run(config, "France and Spain?", None, limits=Limits(max_tasks=1)).run()
    assert caught.value.result is not None
    assert caught.value.result.status == "budget_exceeded"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_replans": -1}, "max_replans must be >= 0"),
        ({"max_tasks": 0}, "and max_tasks >= 1"),
        ({"max_tokens": 0}, "max_tokens must be positive"),
        ({"time_limit": -1.0}, "time_limit must be positive"),
        ({"max_cost": 0.0}, "max_cost must be positive"),
        ({"max_concurrency": 0}, "max_concurrency must be positive"),
    ],
)
def test_limits_that_would_stop_every_run_are_refused(
    changes: dict[str, float], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        Limits(**changes)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=message):
        Limits().replace(**changes)  # type: ignore[arg-type]


def test_limits_are_frozen_and_replace_changes_only_what_is_given() -> None:
    limits = Limits(max_replans=1, time_limit=5.0)
    changed = limits.replace(max_tasks=3)
    assert (changed.max_replans, changed.time_limit, changed.max_tasks) == (1, 5.0, 3)
    with pytest.raises(AttributeError):
        limits.max_tasks = 9  # type: ignore[misc]


async def test_an_agent_run_may_be_given_its_own_limits() -> None:
    agent = Agent(ScriptedModel([PLAN, "Action: Finish(116 million)"]), TOOLS)
    assert agent.limits == Limits()
    with pytest.raises(BudgetExceeded, match="more than 1 tasks"):
        await agent.run("France and Spain?", limits=agent.limits.replace(max_tasks=1))
    agent.close()


async def test_a_money_limit_per_run_needs_a_price_for_every_model() -> None:
    agent = Agent(ScriptedModel([PLAN, "Action: Finish(x)"]), TOOLS)
    with pytest.raises(UserError, match="max_cost needs a price for scripted"):
        await agent.run("France and Spain?", limits=Limits(max_cost=1.0))
    agent.close()


def _lookup(i: int) -> Tool:
    def lookup(key: str) -> str:
        return key

    return tool(read_only=True, name=f"table_{i}_lookup", description=f"A key of table {i}.")(
        lookup
    )


def _task(task_id: int) -> PlanTask:
    return PlanTask(task_id, "population", {"country": "France"}, frozenset())


def test_the_recorder_builds_the_result_from_events_alone() -> None:
    result = RunResult(run_id="r", request="q")
    recorder = Recorder(result)
    one, two = _task(1), _task(2)
    for event in [
        TaskPlanned(run_id="r", task=one, at=1.0),
        TaskPlanned(run_id="r", task=two, at=1.0),
        TaskStarted(run_id="r", task=one, args={"country": "France"}, at=2.0),
        TaskSucceeded(run_id="r", task=one, value=68, duration=1.0, at=3.0),
        TaskStarted(run_id="r", task=two, args={"country": "France"}, at=2.5),
    ]:
        assert recorder.record(event) is event
    assert result.tasks[1].state is TaskState.SUCCEEDED
    assert (result.tasks[1].value, result.tasks[1].started_at, result.tasks[1].finished_at) == (
        68,
        2.0,
        3.0,
    )
    assert result.tasks[2].state is TaskState.RUNNING
    finished = recorder.finished("cancelled", "the run was cancelled", 4.0)
    assert finished.result is result
    assert result.status == "cancelled"
    assert result.tasks[2].state is TaskState.SKIPPED  # cut short by the end of the run
    assert result.tasks[2].reason == "not finished: the run was cancelled"


def test_the_recorder_holds_a_call_that_waits_for_approval() -> None:
    result = RunResult(run_id="r", request="q")
    recorder = Recorder(result)
    task = _task(1)
    recorder.record(TaskPlanned(run_id="r", task=task, at=1.0))
    waiting = TaskFailed(
        run_id="r",
        task=task,
        error=ApprovalPending("population", args={"country": "France"}),
        duration=0.0,
        at=2.0,
    )
    passed_on = recorder.record(waiting)
    assert isinstance(passed_on, ApprovalRequested)
    assert result.tasks[1].state is TaskState.PENDING
    assert [(p.id, p.tool, p.args) for p in result.pending] == [
        (1, "population", {"country": "France"})
    ]
    recorder.finished("paused", None, 3.0)
    assert result.tasks[1].state is TaskState.PENDING  # it waits: the run paused for it
    failed = TaskFailed(
        run_id="r", task=task, error=ToolError("population", "boom"), duration=1.0, at=4.0
    )
    recorder.record(failed)
    assert result.tasks[1].state is TaskState.FAILED


def test_the_budget_counts_tokens_and_money() -> None:
    result = RunResult(run_id="r", request="q")
    result.calls.append(ModelCall("planner", Usage(600, 300), 0.0, 1.0))
    prices = PriceTable({"m": Price(input=1_000.0, output=1_000.0)})
    names = dict.fromkeys(("planner", "joiner", "decomposer"), "m")

    def models() -> dict[str, str]:
        return names

    assert Budget(Limits(max_tokens=1_000), result, prices, models).tokens_left() == 100
    with pytest.raises(BudgetExceeded, match="its whole budget of 900"):
        Budget(Limits(max_tokens=900), result, prices, models).tokens_left()
    with pytest.raises(BudgetExceeded, match="over its limit of 800"):
        Budget(Limits(max_tokens=800), result, prices, models).check()
    with pytest.raises(BudgetExceeded, match=r"the run cost 0\.9"):
        Budget(Limits(max_cost=0.5), result, prices, models).check()
    Budget(Limits(max_cost=1.0), result, prices, models).check()
    assert result.calls[0].model == "m"


async def test_the_offer_gives_every_tool_to_a_small_registry_and_retrieves_for_a_large() -> None:
    model = ScriptedModel([])
    small = ToolOffer(TOOLS, model)
    assert small.retriever is None
    assert (await small.first("France?"))[0] == list(TOOLS)
    many = [_lookup(i) for i in range(5)]
    large = ToolOffer(ToolRegistry([population, *many]), model, retrieve_above=3, decompose=False)
    offered, hits, split = await large.first("the population of France")
    assert large.retriever is not None
    assert split is None
    assert len(offered) == len(hits) == 6
    assert hits[0].tool.name == "population"


def test_replace_lifts_a_limit_with_none_and_keeps_what_is_not_given() -> None:
    limits = Limits(time_limit=5.0, max_tokens=100)
    lifted = limits.replace(time_limit=None)
    assert (lifted.time_limit, lifted.max_tokens) == (None, 100)


async def test_an_agents_limits_are_its_attributes_and_setting_one_holds() -> None:
    agent = Agent(ScriptedModel([PLAN, "Action: Finish(116 million)"]), TOOLS, max_replans=1)
    assert (agent.max_replans, agent.max_tasks, agent.skip_join) == (1, 64, False)
    agent.max_tasks = 1
    assert agent.limits.max_tasks == 1
    with pytest.raises(BudgetExceeded, match="more than 1 tasks"):
        await agent.run("France and Spain?")
    with pytest.raises(UserError, match="max_tasks >= 1"):
        agent.max_tasks = 0
    with pytest.raises(AttributeError):
        agent.planner = Planner(ScriptedModel([]))  # type: ignore[misc]
    agent.close()
