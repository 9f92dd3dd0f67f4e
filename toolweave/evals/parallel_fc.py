"""Parallel function calling, the loop that LLMCompiler is compared with beside ReAct.

Each model call may ask for several tool calls, which run together; their results
come back, and the model calls more or answers: OpenAI-style parallel function
calling, on the same model and tools as the other strategies. Native (the endpoint's
``tools``) when the model supports it, else emulated with a JSON-list prompt with
few-shot examples, read tolerantly (the first JSON value of a reply). ReAct, one tool
per model call, is `toolweave.evals.react`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from toolweave.evals._loop_calls import complete, first_json, given, opening, run_calls
from toolweave.evals.trace import Trace
from toolweave.models import Model, ModelSettings, ToolCallingModel
from toolweave.plan import PlanTask, format_call
from toolweave.planner import WorkedExample, render_value
from toolweave.tools import ToolRegistry

__all__ = ["PFC_EXAMPLES", "parallel_fc", "pfc_examples"]

_MAX_TOKENS = 512

_PFC = """\
Answer the question with the tools below. In each turn, call every tool you can call
now, all at once: reply with ONLY a JSON list of the calls,
[{{"tool": "name", "args": {{"argument": value}}}}, ...]
They run in parallel and their results come back; then call more, or, when the results
answer the question, reply with ONLY {{"answer": "the answer, in one sentence with units"}}
Arguments are literal values: copy a number from the results to use it (a calculator
call does the arithmetic).

Tools:
{tools}

Examples (their tools may differ from yours):

{examples}"""

PFC_EXAMPLES = """\
Question: What is the combined population of Canada and Mexico?
[{"tool": "population", "args": {"country": "Canada"}}, \
{"tool": "population", "args": {"country": "Mexico"}}]
Results:
population(country="Canada") -> 38,000,000
population(country="Mexico") -> 126,000,000
[{"tool": "calculator", "args": {"expression": "38000000 + 126000000"}}]
Results:
calculator(expression="38000000 + 126000000") -> 164,000,000
{"answer": "Canada and Mexico have 164,000,000 people together."}

Question: Who directed the film that won Best Picture in 1998?
[{"tool": "search", "args": {"query": "Best Picture winner 1998"}}]
Results:
search(query="Best Picture winner 1998") -> Titanic won Best Picture at the 70th \
Academy Awards (1998).
[{"tool": "search", "args": {"query": "director of Titanic"}}]
Results:
search(query="director of Titanic") -> Titanic (1997) is a film written and directed \
by James Cameron.
{"answer": "James Cameron directed Titanic, the Best Picture winner of 1998."}"""
"""The planner's two default examples, as parallel function calls."""


def pfc_examples(examples: Iterable[WorkedExample]) -> str:
    """Worked examples as parallel function calls: each round's calls in one turn."""
    blocks = []
    for example in examples:
        lines = [f"Question: {example.question}"]
        for round_ in example.rounds():
            calls = [(example.calls[i - 1], example.resolved(i)) for i in round_]
            turn = [{"tool": call.tool, "args": args} for call, args in calls]
            lines.append(json.dumps(turn, ensure_ascii=False))
            lines.append("Results:")
            for call, args in calls:
                lines.append(f"{format_call(call.tool, args)} -> {render_value(call.result)}")
        lines.append(json.dumps({"answer": example.answer}, ensure_ascii=False))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


_NATIVE = """\
Answer the question with the tools. Call every tool you can call now in one turn (they
run in parallel); you will get their results and may call more. When you know the
answer, reply with it and call no tool."""


async def parallel_fc(
    query: str,
    model: Model,
    tools: ToolRegistry,
    trace: Trace,
    *,
    native: bool | None = None,
    turns: int = 5,
    examples: str = PFC_EXAMPLES,
) -> None:
    """Parallel function calling: each turn's calls run together, then the next turn.

    Args:
        query: The request.
        model: The model that picks the calls and answers.
        tools: The tools it may call.
        trace: Records the calls, usage and answer.
        turns: At most this many model calls.
        native: Use the endpoint's function calling (the default when the model has
            it), or emulate it with a JSON-list prompt (``False``).
        examples: The emulated prompt's few-shot examples (see `pfc_examples`).
    """
    if native is None:
        native = isinstance(model, ToolCallingModel)
    if native:
        if not isinstance(model, ToolCallingModel):
            raise TypeError(f"{model!r} has no native function calling")
        trace.mode = "native"
        await _native(query, model, tools, trace, turns)
    else:
        trace.mode = "json"
        await _emulated(query, model, tools, trace, turns, examples)


async def _emulated(
    query: str, model: Model, tools: ToolRegistry, trace: Trace, turns: int, examples: str
) -> None:
    messages = opening(_PFC, tools, query, examples=examples)
    last: frozenset[int] = frozenset()
    for _ in range(turns):
        text = await complete(model, messages, ("\nResults:", "\nQuestion:"), trace)
        payload, used = first_json(text)
        messages.append({"role": "assistant", "content": used})
        if isinstance(payload, dict) and "answer" in payload:
            trace.answer = str(payload["answer"])
            return
        if payload is None:
            trace.answer = text.strip()
            return
        tasks, errors = _json_calls(payload, tools, first_id=len(trace.calls) + 1)
        lines = errors
        if tasks:
            observations = await run_calls(tasks, tools, trace, after=last)
            last = frozenset(t.id for t in tasks)
            lines = [
                f"{format_call(t.tool, t.args)} -> {o}"
                for t, o in zip(tasks, observations, strict=True)
            ] + errors
        messages.append({"role": "user", "content": "Results:\n" + "\n".join(lines)})
    trace.error = f"no answer after {turns} turns"


def _json_calls(
    payload: Any, tools: ToolRegistry, *, first_id: int
) -> tuple[list[PlanTask], list[str]]:
    """The calls of a JSON reply (a list of calls, or one call), and what was wrong."""
    items = payload if isinstance(payload, list) else [payload]
    tasks: list[PlanTask] = []
    errors = []
    for item in items:
        if not isinstance(item, dict):
            errors.append(f"error: {json.dumps(item)} is not a call: {_PFC_FORMAT}")
            continue
        name = item.get("tool", item.get("name"))
        args = item.get("args", item.get("arguments", {}))
        if not isinstance(name, str) or name not in tools:
            errors.append(f"error: no tool named {name!r}; the tools are {', '.join(tools.names)}")
        elif not isinstance(args, dict):
            errors.append(f"error: the args of {name} must be a JSON object: {_PFC_FORMAT}")
        else:
            tasks.append(PlanTask(first_id + len(tasks), name, given(tools[name], args)))
    return tasks, errors


_PFC_FORMAT = 'write [{"tool": "name", "args": {...}}, ...] or {"answer": "..."}'


async def _native(
    query: str, model: ToolCallingModel, tools: ToolRegistry, trace: Trace, turns: int
) -> None:
    schemas = [tool.to_openai() for tool in tools]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": _NATIVE},
        {"role": "user", "content": query},
    ]
    last: frozenset[int] = frozenset()
    settings = ModelSettings(max_tokens=_MAX_TOKENS)
    for _ in range(turns):
        turn = await model.call_tools(messages, schemas, settings)
        trace.usage = trace.usage + turn.usage
        trace.llm_calls += 1
        if not turn.calls:
            trace.answer = turn.text.strip()
            return
        messages.append(
            {
                "role": "assistant",
                "content": turn.text or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in turn.calls
                ],
            }
        )
        tasks: list[PlanTask] = []
        replies: dict[str, str] = {}
        for call in turn.calls:
            args = _json_object(call.arguments)
            if call.name not in tools:
                replies[call.id] = f"error: no tool named {call.name!r}"
            elif args is None:
                replies[call.id] = "error: the arguments are not a JSON object"
            else:
                kept = given(tools[call.name], args)
                tasks.append(PlanTask(len(trace.calls) + len(tasks) + 1, call.name, kept))
                replies[call.id] = ""
        if tasks:
            observations = iter(await run_calls(tasks, tools, trace, after=last))
            last = frozenset(t.id for t in tasks)
            for call_id, reply in replies.items():
                replies[call_id] = reply or next(observations)
        messages += [
            {"role": "tool", "tool_call_id": call_id, "content": reply}
            for call_id, reply in replies.items()
        ]
    trace.error = f"no answer after {turns} turns"


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
