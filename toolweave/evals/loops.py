"""The agent loops that LLMCompiler is compared with, on the same model and tools.

- `react`: Thought / Action / Observation, one tool per model call.
- `parallel_fc`: each model call may ask for several tool calls, run together, repeated
  until an answer: OpenAI-style parallel function calling. Native (the endpoint's
  ``tools``) when the model supports it, else emulated with a JSON-list prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolweave.errors import PlanError
from toolweave.evals.metrics import Call
from toolweave.fetcher import TaskState, execute
from toolweave.models import Message, Model, ModelSettings, ToolCallingModel, Usage
from toolweave.plan import PlanParser, PlanTask, render_text
from toolweave.planner._prompts import tool_catalog
from toolweave.tools import Tool, ToolRegistry

__all__ = ["Trace", "parallel_fc", "react"]

_MAX_TOKENS = 512


@dataclass(slots=True)
class Trace:
    """What a strategy did on a case."""

    calls: list[Call] = field(default_factory=list)
    answer: str | None = None
    usage: Usage = field(default_factory=Usage)
    llm_calls: int = 0
    replans: int = 0
    wall: float = 0.0
    error: str | None = None
    mode: str | None = None


def _opening(instructions: str, tools: ToolRegistry, query: str) -> list[Message]:
    return [
        {"role": "system", "content": instructions.format(tools=tool_catalog(tools))},
        {"role": "user", "content": f"Question: {query}"},
    ]


async def _complete(
    model: Model, messages: list[Message], stop: tuple[str, ...], trace: Trace
) -> str:
    settings = ModelSettings(stop=stop, max_tokens=_MAX_TOKENS)
    async with model.stream(messages, settings) as reply:
        async for _ in reply:
            pass
    trace.usage = trace.usage + reply.usage
    trace.llm_calls += 1
    return reply.text


_REACT = """\
Answer the question with the tools below, one tool call at a time.
Tools:
{tools}

Use exactly this format:
Thought: what to do next
Action: tool_name(argument="value", ...)
Then stop: the Observation (the tool's result) will be given to you. Repeat as needed.
When you know the answer, write:
Thought: I know the answer
Final Answer: the answer"""
_ACTION = re.compile(r"^\s*Action\s*:\s*(.+)$", re.M)
_FINAL = re.compile(r"Final Answer\s*:\s*(.*)", re.S)


async def react(
    query: str, model: Model, tools: ToolRegistry, trace: Trace, steps: int = 8
) -> None:
    """The ReAct loop: one tool call per model call, each after the previous result."""
    messages = _opening(_REACT, tools, query)
    last: frozenset[int] = frozenset()
    for _ in range(steps):
        text = await _complete(model, messages, ("Observation:",), trace)
        messages.append({"role": "assistant", "content": text})
        action = _ACTION.search(text)
        if action is None:
            final = _FINAL.search(text)
            trace.answer = (final.group(1) if final else text).strip()
            return
        number = len(trace.calls) + 1
        items = PlanParser(tools).feed(f"{number}. {action.group(1).strip()}\n")
        tasks = [t for t in items if isinstance(t, PlanTask)]
        if not tasks:
            errors = [e for e in items if isinstance(e, PlanError)]
            reason = errors[0].reason if errors else "no call found"
            messages.append({"role": "user", "content": f"Observation: error: {reason}"})
            continue
        observations = await _run(tasks, tools, trace, after=last)
        last = frozenset({tasks[0].id})
        observation = f"{tasks[0].tool}: {observations[0]}"
        messages.append({"role": "user", "content": f"Observation: {observation}"})
    trace.error = f"no answer after {steps} steps"


_PFC = """\
Answer the question with the tools below. In each turn, reply with ONLY a JSON list of
the tool calls to make now, all at once: [{{"tool": "name", "args": {{...}}}}, ...]
You will get their results and may call more. When you know the answer, reply with
ONLY: {{"answer": "..."}}
Tools:
{tools}"""

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
        await _emulated(query, model, tools, trace, turns)


async def _emulated(
    query: str, model: Model, tools: ToolRegistry, trace: Trace, turns: int
) -> None:
    messages = _opening(_PFC, tools, query)
    last: frozenset[int] = frozenset()
    for _ in range(turns):
        text = await _complete(model, messages, (), trace)
        messages.append({"role": "assistant", "content": text})
        payload = _json(text)
        if isinstance(payload, dict) and "answer" in payload:
            trace.answer = str(payload["answer"])
            return
        if not isinstance(payload, list):
            trace.answer = text.strip()
            return
        tasks: list[PlanTask] = []
        for item in payload:
            if not isinstance(item, dict) or item.get("tool") not in tools:
                continue
            args = item.get("args")
            given = _given(tools[item["tool"]], args if isinstance(args, dict) else {})
            tasks.append(PlanTask(len(trace.calls) + len(tasks) + 1, item["tool"], given))
        if not tasks:
            messages.append({"role": "user", "content": "Results: no known tool was called"})
            continue
        observations = await _run(tasks, tools, trace, after=last)
        last = frozenset(t.id for t in tasks)
        text = "\n".join(f"{t.tool}: {o}" for t, o in zip(tasks, observations, strict=True))
        messages.append({"role": "user", "content": f"Results:\n{text}"})
    trace.error = f"no answer after {turns} turns"


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
                given = _given(tools[call.name], args)
                tasks.append(PlanTask(len(trace.calls) + len(tasks) + 1, call.name, given))
                replies[call.id] = ""
        if tasks:
            observations = iter(await _run(tasks, tools, trace, after=last))
            last = frozenset(t.id for t in tasks)
            for call_id, reply in replies.items():
                replies[call_id] = reply or next(observations)
        messages += [
            {"role": "tool", "tool_call_id": call_id, "content": reply}
            for call_id, reply in replies.items()
        ]
    trace.error = f"no answer after {turns} turns"


_PY_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|\b(True|False|None)\b')
_AS_JSON = {"True": "true", "False": "false", "None": "null"}


def _json(text: str) -> Any:
    """The JSON list or object in a reply; Python's True/False/None are read as JSON's."""
    match = re.search(r"(\[.*\]|\{.*\})", text, re.S)
    if not match:
        return None
    found = match.group(1)
    for candidate in (found, _PY_LITERAL.sub(lambda m: _AS_JSON.get(m[1], m[0]), found)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


def _given(tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments without nulls for optional parameters (null means "not given")."""
    return {k: v for k, v in args.items() if v is not None or k in tool.required_names}


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


async def _run(
    tasks: Sequence[PlanTask], tools: ToolRegistry, trace: Trace, *, after: frozenset[int]
) -> list[str]:
    """Run calls together, record them, and describe each one's result.

    Each call is recorded as depending on the previous step's calls.
    """
    outcome = await execute(tasks, tools)
    observations = []
    for task in tasks:
        result = outcome.results[task.id]
        trace.calls.append(Call(task.id, task.tool, result.args or {}, after))
        if result.state is TaskState.SUCCEEDED:
            observations.append(render_text(result.value)[:1500])
        else:
            error = result.error.message if result.error else result.reason
            observations.append(f"error: {error}")
    return observations
