from __future__ import annotations

from toolweave.evals.parallel_fc import parallel_fc
from toolweave.evals.react import react, read_react_step
from toolweave.evals.trace import Trace
from toolweave.models import Message, ModelSettings
from toolweave.models.testing import FunctionModel, ScriptedModel
from toolweave.tools import ToolRegistry, tool

POPULATION = {"Chile": 19_000_000, "Norway": 5_400_000}


def tools() -> ToolRegistry:
    @tool(read_only=True)
    def population(country: str) -> int:
        """A country's population."""
        return POPULATION[country]

    @tool(read_only=True)
    def calculator(expression: str) -> str:
        """Arithmetic."""
        return {"19000000 + 5400000": "24400000"}.get(expression, "?")

    return ToolRegistry([population, calculator])


def test_the_reader_takes_the_first_call_of_an_action_line() -> None:
    step = read_react_step(
        'Thought: both\nAction: population(country="Chile") + population(country="Norway")'
    )
    assert step.call == 'population(country="Chile")'
    assert step.text == 'Thought: both\nAction: population(country="Chile")'
    quoted = read_react_step('Action: `calculator(expression="(1 + 2) * 3")` then done')
    assert quoted.call == 'calculator(expression="(1 + 2) * 3")'


def test_the_reader_cuts_made_up_observations_and_answers_after_the_action() -> None:
    step = read_react_step(
        'Thought: first Chile\nAction: population(country="Chile")\n'
        "Observation: 19 million\nThought: I know the answer\nFinal Answer: 24 million"
    )
    assert step.call == 'population(country="Chile")'
    assert step.answer is None
    assert "Final Answer" not in step.text


def test_the_reader_takes_an_answer_before_any_action_and_the_action_input_form() -> None:
    final = read_react_step("Thought: I know the answer\nFinal Answer: Oslo\nAction: x()")
    assert (final.answer, final.call) == ("Oslo", None)
    langchain = read_react_step('Action: population\nAction Input: {"country": "Chile"}')
    assert langchain.call == 'population(country="Chile")'


def test_the_reader_says_what_to_write_instead() -> None:
    nothing = read_react_step("I think Chile is bigger.")
    assert nothing.call is None
    assert nothing.answer is None
    assert "Final Answer:" in str(nothing.error)
    not_a_call = read_react_step("Action: look up Chile")
    assert "is not a call" in str(not_a_call.error)


async def test_react_cuts_each_reply_after_its_action_and_answers() -> None:
    replies = iter(
        [
            'Thought: Chile first.\nAction: population(country="Chile") + '
            'population(country="Norway")\nObservation: 19000000',
            'Action: population(country="Norway")',
            'Action: calculator(expression="19000000 + 5400000")',
            "Thought: I know the answer\nFinal Answer: 24,400,000 people",
        ]
    )
    seen: list[list[Message]] = []

    def respond(messages: list[Message], settings: ModelSettings) -> str:
        seen.append(messages)
        assert "Observation:" in settings.stop
        return next(replies)

    trace = Trace()
    await react("Chile and Norway together?", FunctionModel(respond), tools(), trace)
    assert trace.answer == "24,400,000 people"
    assert [c.tool for c in trace.calls] == ["population", "population", "calculator"]
    second = seen[1]
    assert second[-2]["content"] == 'Thought: Chile first.\nAction: population(country="Chile")'
    assert second[-1]["content"] == "Observation: 19,000,000"  # as the planner reads it
    assert "Final Answer:" in second[0]["content"]  # the format and the examples
    assert 'Action: population(country="Canada")' in second[0]["content"]


async def test_react_tells_the_model_what_to_fix() -> None:
    model = ScriptedModel(
        [
            'Action: populations(country="Chile")',
            "Action: population(country=Chile)",
            "Chile has more people.",
            "Final Answer: Chile",
        ]
    )
    trace = Trace()
    await react("Which has more people, Chile or Norway?", model, tools(), trace)
    assert trace.answer == "Chile"
    assert trace.calls == []
    unknown, bare, no_action = (model.calls[i][-1]["content"] for i in (1, 2, 3))
    assert "unknown tool 'populations'" in unknown
    assert "the tools are population, calculator" in unknown
    assert "bare name" in bare
    assert "not names or $N" in bare
    assert "call it as population(country=...)" in bare
    assert 'write "Action: tool_name(argument=value)"' in no_action


async def test_parallel_fc_reads_the_first_json_value_and_reports_unknown_tools() -> None:
    replies = iter(
        [
            'Calls:\n[{"tool": "population", "args": {"country": "Chile"}}, '
            '{"name": "population", "arguments": {"country": "Norway"}}, '
            '{"tool": "gdp", "args": {}}]\nResults: made up',
            '{"answer": "24.4 million"} and more text',
        ]
    )
    seen: list[list[Message]] = []

    def respond(messages: list[Message], settings: ModelSettings) -> str:
        seen.append(messages)
        return next(replies)

    trace = Trace()
    await parallel_fc("Chile and Norway?", FunctionModel(respond), tools(), trace, native=False)
    assert trace.answer == "24.4 million"
    assert [c.args["country"] for c in trace.calls] == ["Chile", "Norway"]
    assert seen[1][-2]["content"].endswith('{"tool": "gdp", "args": {}}]')  # cut after the JSON
    results = seen[1][-1]["content"]
    assert 'population(country="Chile") -> 19,000,000' in results
    assert "error: no tool named 'gdp'; the tools are population, calculator" in results
