from __future__ import annotations

import asyncio

import pytest

from toolweave import Agent, BudgetExceeded, PlanError, Price, TaskState, Tool, ToolRegistry, tool
from toolweave.events import (
    Event,
    JoinDecided,
    PlanFinished,
    Replanned,
    RunFinished,
    RunStarted,
    TaskStarted,
    TaskSucceeded,
)
from toolweave.models.testing import FunctionModel, ScriptedModel
from toolweave.planner import Finish, Joiner, Replan, parse_join

POPULATION = {"France": 68, "Germany": 84, "Spain": 48}


@tool(read_only=True)
async def population(country: str) -> int:
    """Population of a country, in millions."""
    await asyncio.sleep(0.05)
    return POPULATION[country]


@tool(read_only=True)
def calculator(expression: str) -> float:
    """Add numbers written as 'a + b'."""
    return float(sum(float(x) for x in expression.split("+")))


TOOLS = ToolRegistry([population, calculator])

PLAN = """Thought: two independent lookups, then a sum.
1. population(country="France")
2. population(country="Germany")
3. calculator(expression="$1 + $2")
join()
<END_OF_PLAN>"""


async def test_run_answers_with_parallel_plan() -> None:
    model = ScriptedModel([PLAN, "Thought: easy.\nAction: Finish(152 million)"])
    agent = Agent(model, TOOLS)
    result = await agent.run("France + Germany population?")
    assert result.answer == "152 million"
    assert result.thought == "easy."
    assert result.status == "finished"
    assert {tid: r.value for tid, r in result.tasks.items()} == {1: 68, 2: 84, 3: 152.0}
    r = result.tasks
    assert r[1].started_at is not None
    assert r[2].started_at is not None
    assert r[1].finished_at is not None
    assert r[2].started_at < r[1].finished_at  # the two lookups overlapped
    assert [c.role for c in result.calls] == ["planner", "joiner"]
    assert result.calls[0].text == PLAN.removesuffix("<END_OF_PLAN>")  # the stop sequence
    assert result.calls[1].text == "Thought: easy.\nAction: Finish(152 million)"
    assert result.usage.total_tokens > 0
    assert result.usage == result.calls[0].usage + result.calls[1].usage
    assert len(result.plans) == 1
    assert result.plans[0].text.startswith("Thought: two independent")
    # the planner saw the tools and the request; the joiner saw the results
    planner_prompt = model.calls[0][0]["content"]
    assert "population(country: str) -> int" in planner_prompt
    assert model.calls[0][1]["content"] == "Question: France + Germany population?"
    joiner_prompt = model.calls[1][-1]["content"]
    # the joiner continues the planner's conversation: the plan is just above
    assert model.calls[1][:2] == model.calls[0]
    assert model.calls[1][-2]["content"] == result.plans[0].text.strip()
    # a converged plan that fully succeeded: the joiner is told which value answers,
    # in place of the results
    assert "$3 = 152 is the answer." in joiner_prompt
    assert "<results>" not in joiner_prompt
    data = result.to_dict()
    assert data["answer"] == "152 million"
    assert [t["state"] for t in data["tasks"]] == ["succeeded"] * 3


async def test_first_task_starts_before_the_plan_finishes() -> None:
    # a slow endpoint: 0.2 s to the first token, 40 tokens/s (about 4 s for this plan)
    model = ScriptedModel([PLAN, "Action: Finish(ok)"], ttft=0.05, tokens_per_second=200)
    events: list[Event] = []
    async with Agent(model, TOOLS).stream("q") as stream:
        async for event in stream:
            events.append(event)
    started = next(e for e in events if isinstance(e, TaskStarted) and e.task.id == 1)
    plan_done = next(e for e in events if isinstance(e, PlanFinished))
    assert started.at < plan_done.at
    assert events.index(started) < events.index(plan_done)
    assert isinstance(events[0], RunStarted)
    assert isinstance(events[-1], RunFinished)
    assert events[-1].result.answer == "ok"


async def test_replan_refers_to_first_plan_results() -> None:
    model = ScriptedModel(
        [
            '1. population(country="France")\n2. population(country="Spain")\njoin()\n',
            "Thought: I have both, but not the sum.\nAction: Replan(add them up)",
            '3. calculator(expression="$1 + $2")\njoin()\n',
            "Action: Finish(116)",
        ]
    )
    events: list[Event] = []
    async with Agent(model, TOOLS).stream("q") as stream:
        events = [e async for e in stream]
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.answer == "116"
    assert result.replans == 1
    assert result.tasks[3].value == 116.0
    assert result.plans[1].reason == "add them up"
    # the replan continues the planner's conversation: its first plan, then the results
    replan = model.calls[2]
    assert replan[:2] == model.calls[0]
    assert replan[2] == {"role": "assistant", "content": result.plans[0].text.strip()}
    replan_prompt = replan[3]["content"]
    assert '<results>\n$1 = population(country="France") -> 68\n' in replan_prompt
    assert "Why it was not enough: add them up" in replan_prompt
    assert "numbered from 3" in replan_prompt
    assert any(isinstance(e, Replanned) and e.reason == "add them up" for e in events)
    assert [type(e.decision) for e in events if isinstance(e, JoinDecided)] == [Replan, Finish]


async def test_malformed_plan_is_repaired_through_a_replan() -> None:
    model = ScriptedModel(
        [
            '1. populaton(country="France")\n2. calculator(expression="$1 + 0")\njoin()\n',
            "Thought: the tool name was wrong.\nAction: Replan(use population)",
            '3. population(country="France")\njoin()\n',
            "Action: Finish(68)",
        ]
    )
    result = await Agent(model, TOOLS).run("q")
    assert result.answer == "68"
    assert result.tasks[2].state is TaskState.SKIPPED
    assert result.plans[0].rejected[0].reason == "unknown tool 'populaton'"
    joiner_prompt = model.calls[1][-1]["content"]
    assert "(rejected line) 1. populaton" in joiner_prompt
    assert "SKIPPED: task 1 was rejected" in joiner_prompt


async def test_tool_failures_reach_the_joiner() -> None:
    model = ScriptedModel(
        ['1. population(country="Atlantis")\njoin()\n', "Action: Finish(unknown)"]
    )
    result = await Agent(model, TOOLS).run("q")
    assert result.tasks[1].state is TaskState.FAILED
    assert "ERROR: KeyError: 'Atlantis'" in model.calls[1][-1]["content"]


async def test_a_replan_that_repeats_the_plan_is_not_run_and_the_results_answer() -> None:
    calls = 0

    @tool
    async def lookup(key: str) -> str:
        nonlocal calls
        calls += 1
        return "?"

    plan = '1. lookup(key="a")\n2. lookup(key="$1")\njoin()\n'
    again = '3. lookup(key="a")\n4. lookup(key="$3")\njoin()\n'
    answer = "Action: Finish(unknown: the lookups return ?)"
    model = ScriptedModel([plan, "Action: Replan(try again)", again, answer])
    async with Agent(model, [lookup], replan_on_success=True).stream("q") as stream:
        plans = [e async for e in stream if isinstance(e, PlanFinished)]
    result = stream.result
    assert calls == 2  # the repeat was held back, never executed
    assert plans[1].task_ids == ()
    assert plans[1].cut is not None
    assert result.status == "finished"
    assert result.answer == "unknown: the lookups return ?"
    assert len(result.tasks) == 2
    repeat = result.plans[1]
    assert repeat.task_ids == []
    assert repeat.cut is not None
    assert "repeats the previous one" in repeat.cut.reason
    # the joiner continues the first plan's conversation, as its first call did
    assert model.calls[3][:-1] == [*model.calls[0], {"role": "assistant", "content": plan.strip()}]
    assert "Reply with Action: Finish" in model.calls[3][-1]["content"]

    # a joiner that will not answer even then ends the run: it does not plan again
    model = ScriptedModel([plan, "Action: Replan(try again)", again, "Action: Replan(again)"])
    with pytest.raises(PlanError, match="repeats the previous one") as info:
        await Agent(model, [lookup], replan_on_success=True, max_replans=3).run("q")
    assert info.value.result is not None
    assert info.value.result.status == "failed"
    assert len(model.calls) == 4


async def test_replan_budget() -> None:
    model = ScriptedModel(
        [
            '1. population(country="France")\n',
            "Action: Replan(more)",
            '2. population(country="Spain")\n',
            "Action: Replan(even more)",
        ]
    )
    with pytest.raises(BudgetExceeded, match="after 1 replan") as info:
        await Agent(model, TOOLS, max_replans=1, replan_on_success=True).run("q")
    assert "Reply with Action: Finish" in model.calls[-1][-1]["content"]
    result = info.value.result
    assert result is not None
    assert result.status == "budget_exceeded"
    assert {tid: r.value for tid, r in result.tasks.items()} == {1: 68, 2: 48}


async def test_task_and_token_budgets() -> None:
    countries = ("France", "Spain", "Italy", "Peru", "Chile")
    wide = "".join(f'{i}. population(country="{c}")\n' for i, c in enumerate(countries, 1))
    with pytest.raises(BudgetExceeded, match="more than 3 tasks") as info:
        await Agent(ScriptedModel([wide]), TOOLS, max_tasks=3).run("q")
    assert info.value.result is not None
    assert sorted(info.value.result.tasks) == [1, 2, 3]  # what finished is kept
    with pytest.raises(BudgetExceeded, match="tokens"):
        await Agent(ScriptedModel([PLAN, "Action: Finish(x)"]), TOOLS, max_tokens=50).run("q")


async def test_time_limit_keeps_what_finished() -> None:
    @tool
    async def slow(x: int) -> int:
        await asyncio.sleep(0 if x == 1 else 30)
        return x

    model = ScriptedModel(["1. slow(x=1)\n2. slow(x=2)\njoin()\n"])
    with pytest.raises(BudgetExceeded, match="time limit") as info:
        await Agent(model, [slow], time_limit=0.3).run("q")
    result = info.value.result
    assert result is not None
    assert result.tasks[1].state is TaskState.SUCCEEDED
    assert result.tasks[2].state is TaskState.SKIPPED
    assert result.wall_time < 5


async def test_destructive_tools_need_approval() -> None:
    deleted: list[str] = []

    @tool(destructive=True)
    def delete_file(path: str) -> str:
        deleted.append(path)
        return "deleted"

    plan = '1. delete_file(path="/tmp/a")\njoin()\n'
    model = ScriptedModel([plan, "Action: Finish(could not)"])
    result = await Agent(model, [delete_file]).run("delete it")
    assert deleted == []
    assert result.tasks[1].error is not None
    assert result.tasks[1].error.kind == "refused"
    assert "refused" in model.calls[1][-1]["content"]

    model = ScriptedModel([plan, "Action: Finish(done)"])
    result = await Agent(
        model, [delete_file], approve=lambda t, args: args["path"] == "/tmp/a"
    ).run("x")
    assert deleted == ["/tmp/a"]
    assert result.answer == "done"


async def test_skip_join_answers_with_the_last_value() -> None:
    model = ScriptedModel([PLAN])
    result = await Agent(model, TOOLS, skip_join=True).run("q")
    assert result.answer == "152.0"
    assert len(model.calls) == 1


async def test_joiner_without_action_is_a_clear_error() -> None:
    model = ScriptedModel([PLAN, "The answer is 152."])
    with pytest.raises(PlanError, match="no 'Action: Finish") as info:
        await Agent(model, TOOLS).run("q")
    assert info.value.line == "The answer is 152."
    assert info.value.result is not None
    assert info.value.result.tasks[3].value == 152.0


async def test_function_model_sees_messages_and_stream_can_be_left_early() -> None:
    def respond(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        planner = len(messages) == 2 and "Tools:" in messages[0]["content"]
        return PLAN if planner else "Action: Finish(fn)"

    agent = Agent(FunctionModel(respond), TOOLS)
    assert (await agent.run("q")).answer == "fn"
    async with agent.stream("q") as events:
        async for event in events:
            if isinstance(event, TaskSucceeded):
                break  # leaving early cancels the run; nothing may leak
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thought: ok\nAction: Finish(42)", Finish("42", "ok")),
        ("Action: Finish(f(x) = (a + b)\nsecond line)", Finish("f(x) = (a + b)\nsecond line")),
        ("Thought: no\nAction: Replan(use the other tool)", Replan("use the other tool", "no")),
        ("**Action:** Finish(bold)", Finish("bold")),
        ("Action: Finish: no parentheses", Finish("no parentheses")),
        ("Action: Finish(unclosed", Finish("unclosed")),
        ("Action: Finish(first wins)\nAction: Replan(a)", Finish("first wins")),
        ("Thought: it is 5. Action: Finish(5 km)", Finish("5 km", "it is 5.")),  # one line
        ("Action: Finish(5 :) or so)\nmore", Finish("5 :) or so")),
        (  # the local model answered, then copied the prompt's replan template
            "Thought: t\nAction: Finish(2502)\nIf the results cannot answer it, reply:\n"
            "Thought: <what went wrong>\nAction: Replan(<what to do differently>)",
            Finish("2502", "t"),
        ),
        ("Thought: multi\nline\nAction: finish(lower)", Finish("lower", "multi line")),
    ],
)
def test_parse_join(text: str, expected: object) -> None:
    assert parse_join(text) == expected


async def test_joiner_stops_reading_after_its_action() -> None:
    reply = "Thought: t\nAction: Finish(4 (four))\nIf the results cannot answer it...\n" * 20
    model = ScriptedModel([reply], chunk_size=3)
    joined = await Joiner(model).ask([{"role": "user", "content": "results"}])
    assert joined.decision == Finish("4 (four)", "t")
    assert joined.text.startswith("Thought: t\nAction: Finish(4 (four))\n")
    assert len(joined.text) < len("Thought: t\nAction: Finish(4 (four))\n") + 3


def test_parse_join_without_action() -> None:
    with pytest.raises(PlanError):
        parse_join("Thought: I think it is 5.")


def test_agent_misuse() -> None:
    from toolweave import UserError

    with pytest.raises(UserError, match="at least one tool"):
        Agent(ScriptedModel(), [])
    with pytest.raises(UserError, match="unknown model"):
        Agent("nonsense", TOOLS)
    assert Agent(ScriptedModel([PLAN, "Action: Finish(s)"]), TOOLS).run_sync("q").answer == "s"
    assert isinstance(Tool, type)
    agent = Agent(ScriptedModel([PLAN, "Action: Finish(s)"]), TOOLS)
    for blank in ("", "  \n"):
        with pytest.raises(UserError, match="non-empty string"):
            agent.run_sync(blank)

    async def in_a_notebook_cell() -> None:
        with pytest.raises(UserError, match=r"await agent\.run"):
            agent.run_sync("q")

    asyncio.run(in_a_notebook_cell())
    assert agent.model.calls == []  # type: ignore[attr-defined]
    # found by probing: these were taken silently (max_concurrency=0 meant no limit;
    # max_cost for a model without a price never stopped a run)
    with pytest.raises(UserError, match="needs at least one tool"):
        Agent(ScriptedModel(), None)  # type: ignore[arg-type]
    for limit in ({"max_tokens": 0}, {"time_limit": -1}, {"max_concurrency": 0}, {"top_k": 0}):
        with pytest.raises(UserError, match="must be positive"):
            Agent(ScriptedModel(), TOOLS, **limit)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="max_cost needs a price for scripted"):
        Agent(ScriptedModel(), TOOLS, max_cost=0.5)
    with pytest.raises(UserError, match="negative"):
        Price(input=-1.0)


async def test_ask_user_tool_answers_from_the_callback() -> None:
    asked: list[str] = []

    async def answer(question: str) -> str:
        asked.append(question)
        return "France"

    plan = '1. ask_user(question="Which country?")\n2. population(country=$1)\njoin()\n'
    model = ScriptedModel([plan, "Action: Finish(68 million)"])
    result = await Agent(model, TOOLS, ask_user=answer).run("how many people live there?")
    assert asked == ["Which country?"]
    assert result.tasks[2].value == 68
    assert "ask_user(question: str)" in model.calls[0][0]["content"]
    assert "ask_user" not in Agent(ScriptedModel(), TOOLS).tools  # offered only with a callback


def test_an_agent_frees_only_the_local_model_it_made() -> None:
    """An evaluation runs an agent per case on one model: closing one must not unload it."""
    from toolweave.models import LocalModel

    class Weights:
        closed = False

        def close(self) -> None:
            self.closed = True

    shared = LocalModel()
    shared._llm = weights = Weights()
    Agent(shared, TOOLS).close()
    assert not weights.closed
    made = Agent("local", TOOLS)
    assert isinstance(made.model, LocalModel)
    made.model._llm = own = Weights()
    made.close()
    assert own.closed


async def test_a_plan_that_writes_none_for_an_optional_argument_runs_the_call() -> None:
    """`= None` in the signature is what the model copies; the call runs without it."""
    seen: list[dict[str, object]] = []

    async def ask(**args: object) -> str:
        seen.append(args)
        return "42"

    schema = {
        "type": "object",
        "properties": {"prompt": {"type": "string"}, "default_answer": {"type": "string"}},
        "required": ["prompt"],
    }
    asker = Tool.from_schema("ask", "Ask the user.", schema, ask, read_only=True)
    assert asker.signature() == "ask(prompt: str, default_answer: str = None)"
    plan = '1. ask(prompt="Cost of dinner?", default_answer=None)\njoin()\n'
    result = await Agent(ScriptedModel([plan, "Action: Finish(42)"]), [asker]).run("Tip?")
    assert result.tasks[1].state is TaskState.SUCCEEDED
    assert seen == [{"prompt": "Cost of dinner?"}]
