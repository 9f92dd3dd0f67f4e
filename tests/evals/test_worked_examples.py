"""Worked examples: one solved question, shown to every method in its own format."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from toolweave import demo, execute
from toolweave.errors import UserError
from toolweave.evals.countries import countries_cases, country_tools
from toolweave.evals.parallel_fc import pfc_examples
from toolweave.evals.react import react_examples, read_react_step
from toolweave.evals.strategies import run_strategy
from toolweave.models import Message, ModelSettings
from toolweave.models.testing import FunctionModel
from toolweave.plan import PlanError, PlanParser, PlanTask, parse_plan, plan_grammar
from toolweave.planner import ExampleCall, WorkedExample, plan_examples, render_value


def _blocks(text: str) -> list[str]:
    return text.split("\n\n")


def test_plan_examples_parse_and_fit_the_grammar_of_the_demo_tools() -> None:
    grammars = plan_grammar(demo.TOOLS), plan_grammar(demo.TOOLS, first_id=1)
    for example, block in zip(demo.WORKED, _blocks(demo.EXAMPLES), strict=True):
        question, plan = block.split("\n", 1)
        assert question == f"Question: {example.question}"
        items = parse_plan(plan, demo.TOOLS)
        assert not [i for i in items if isinstance(i, PlanError)]
        tasks = [i for i in items if isinstance(i, PlanTask)]
        assert [t.tool for t in tasks] == [c.tool for c in example.calls]
        assert [t.deps for t in tasks] == list(example.deps)
        for grammar in grammars:
            assert grammar.accepts(plan.removesuffix("\n<END_OF_PLAN>") + "\n<END_OF_PLAN>")


def test_plan_examples_without_thoughts_are_the_same_plans_without_thought_lines() -> None:
    bare = plan_examples(demo.WORKED, thoughts=False)
    assert "Thought:" not in bare
    with_thoughts = [line for line in demo.EXAMPLES.splitlines() if not line.startswith("Thought:")]
    assert bare.splitlines() == with_thoughts


async def test_every_result_in_the_examples_is_what_the_demo_tools_return() -> None:
    for example in demo.WORKED:
        for index, call in enumerate(example.calls, 1):
            task = PlanTask(id=index, tool=call.tool, args=example.resolved(index))
            outcome = await execute([task], country_tools())
            value = outcome.results[index].value
            expected = call.result
            if isinstance(expected, float | int):
                expected = pytest.approx(expected, rel=1e-9)
            assert value == expected, (example.question, call)


def test_react_examples_are_steps_the_react_reader_accepts() -> None:
    text = react_examples(demo.WORKED)
    for example, block in zip(demo.WORKED, _blocks(text), strict=True):
        actions = re.findall(r"^Action: .*$", block, re.M)
        assert len(actions) == len(example.calls)
        for index, (line, call) in enumerate(zip(actions, example.calls, strict=True), 1):
            step = read_react_step(f"Thought: x\n{line}\n")
            assert step.call is not None
            tasks = list(PlanParser(demo.TOOLS).feed(f"{index}. {step.call}\n"))
            assert isinstance(tasks[0], PlanTask)
            assert tasks[0].args == example.resolved(index)  # refs written as values
            assert f"Observation: {render_value(call.result)}" in block
        assert block.endswith(f"Final Answer: {example.answer}")


def test_parallel_examples_call_together_what_does_not_wait() -> None:
    mi2 = demo.WORKED[0]
    assert mi2.rounds() == [[1, 2], [3], [4]]
    block = _blocks(pfc_examples([mi2]))[0]
    turns = [line for line in block.splitlines() if line.startswith("[")]
    assert len(turns) == 3
    assert turns[0].count('"tool": "area"') == 2
    assert '"value": 51746' in turns[2]  # the subtraction's result, as a value


def test_a_call_cannot_refer_to_a_later_one() -> None:
    with pytest.raises(UserError, match="later call"):
        WorkedExample("q", "t", (ExampleCall("f", {"x": "$2"}, 1), ExampleCall("g", {}, 2)), "a")


@pytest.mark.parametrize("strategy", ["llmcompiler", "react", "parallel-fc-json"])
async def test_every_strategy_is_shown_the_suites_examples(strategy: str) -> None:
    case = next(c for c in countries_cases() if c.id.startswith("area-gap"))
    assert case.examples == demo.WORKED
    prompts: list[str] = []

    def reply(messages: Sequence[Message], settings: ModelSettings) -> str:
        prompts.append(str(messages[0]["content"]))
        if strategy == "react":
            return "Thought: I know the answer\nFinal Answer: 1 square mile."
        if strategy == "parallel-fc-json":
            return '{"answer": "1 square mile."}'
        if "<END_OF_PLAN>" in settings.stop:  # the planner
            return "join()\n<END_OF_PLAN>"
        return "Thought: done\nAction: Finish(1 square mile.)"

    trace = await run_strategy(strategy, case, FunctionModel(reply), country_tools())
    assert trace.answer is not None
    assert "How much larger is Hungary than Switzerland, in square miles?" in prompts[0]
    assert "Canada and Mexico" not in prompts[0]  # not the generic examples


async def test_largest_names_the_largest_value_and_says_what_is_wrong() -> None:
    right = PlanTask(id=1, tool="largest", args={"values": [3, 9.5, 1], "names": ["a", "b", "c"]})
    wrong = PlanTask(id=2, tool="largest", args={"values": [1.0, 2.0], "names": ["a"]})
    outcome = await execute([right, wrong], demo.TOOLS)
    assert outcome.results[1].value == "b"
    error = outcome.results[2].error
    assert error is not None
    assert "2 values for 1 names" in error.message
