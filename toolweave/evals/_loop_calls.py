"""The calls that the comparison loops make, and how they read replies.

The ReAct (`toolweave.evals.react`) and parallel function calling
(`toolweave.evals.parallel_fc`) loops open a prompt with the tools (`opening`), call
the model (`complete`), read JSON out of its replies (`first_json`, `as_json`), drop
null optional arguments (`given`) and run a round of tool calls (`run_calls`),
recording each in the case's `Trace`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from toolweave.evals.metrics import Call
from toolweave.evals.trace import Trace
from toolweave.fetcher import TaskState, execute
from toolweave.models import Message, Model, ModelSettings
from toolweave.plan import PlanTask
from toolweave.planner import render_value
from toolweave.planner._prompts import tool_catalog
from toolweave.tools import Tool, ToolRegistry

__all__ = ["as_json", "complete", "first_json", "given", "opening", "run_calls"]

_MAX_TOKENS = 512


def opening(
    instructions: str, tools: ToolRegistry, query: str, *, examples: str = ""
) -> list[Message]:
    """The system prompt (instructions with tools and examples) and the question."""
    system = instructions.format(tools=tool_catalog(tools), examples=examples)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Question: {query}"},
    ]


async def complete(
    model: Model,
    messages: list[Message],
    stop: tuple[str, ...],
    trace: Trace,
    max_tokens: int = _MAX_TOKENS,
) -> str:
    """One model call, read to its end; its usage is added to the trace."""
    settings = ModelSettings(stop=stop, max_tokens=max_tokens)
    async with model.stream(messages, settings) as reply:
        async for _ in reply:
            pass
    trace.usage = trace.usage + reply.usage
    trace.llm_calls += 1
    return reply.text


def first_json(text: str) -> tuple[Any, str]:
    """The first JSON list or object in a reply, and the reply cut after it.

    Python's True/False/None are read as JSON's; `None` when there is no JSON value.
    """
    for match in re.finditer(r"[\[{]", text):
        for candidate in (text[match.start() :], as_json(text[match.start() :])):
            try:
                value, end = json.JSONDecoder().raw_decode(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(value, list | dict):
                return value, text[: match.start()] + candidate[:end]
    return None, text.strip()


def as_json(text: str) -> str:
    """Python's True/False/None outside strings, as JSON's."""
    return _PY_LITERAL.sub(lambda m: _AS_JSON.get(m[1], m[0]), text)


_PY_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|\b(True|False|None)\b')
_AS_JSON = {"True": "true", "False": "false", "None": "null"}


def given(tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments without nulls for optional parameters (null means "not given")."""
    return {k: v for k, v in args.items() if v is not None or k in tool.required_names}


async def run_calls(
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
            observations.append(render_value(result.value)[:1500])  # as the planner's prompts
        else:
            error = result.error.message if result.error else result.reason
            observations.append(f"error: {error}")
    return observations
