"""Strategies under evaluation, all with the same model, tools and cases.

- ``llmcompiler``: the toolweave Agent (streaming plan, parallel execution, joiner).
- ``react``: Thought / Action / Observation, one tool per model call.
- ``parallel-fc``: each model call may emit several calls (a JSON list), run together,
  repeated until an answer: OpenAI-style parallel function calling, emulated by prompt.
- ``oracle``: the gold plan, fed to the agent's fetcher and joiner; it must score 1.0 on
  selection and structure. Perturbed oracles (``oracle-drop``, ``oracle-swap``,
  ``oracle-falsedep``) must score lower by the expected amounts.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolweave.agent import Agent
from toolweave.errors import PlanError, ToolweaveError
from toolweave.evals.metrics import Call
from toolweave.evals.suites import EvalCase
from toolweave.fetcher import TaskState, execute
from toolweave.models import Message, Model, ModelSettings, Usage
from toolweave.models.testing import FunctionModel
from toolweave.plan import Arg, PlanItem, PlanParser, PlanTask, Ref, Template, render_text
from toolweave.planner import PlanDraft, Planner
from toolweave.planner._prompts import tool_catalog
from toolweave.tools import Tool, ToolRegistry

__all__ = ["STRATEGIES", "Trace", "oracle_tasks", "placeholder_args", "run_strategy"]


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


async def _complete(
    model: Model, messages: list[Message], stop: tuple[str, ...], trace: Trace
) -> str:
    async with model.stream(messages, ModelSettings(stop=stop, max_tokens=512)) as reply:
        async for _ in reply:
            pass
    trace.usage = trace.usage + reply.usage
    trace.llm_calls += 1
    return reply.text


async def _llmcompiler(case: EvalCase, model: Model, tools: ToolRegistry, trace: Trace) -> None:
    agent = Agent(
        model, tools, max_replans=1, max_tasks=1000, decompose=False, retrieve_above=10_000
    )
    await _llmcompiler_run(agent, case, trace)


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


async def _react(
    case: EvalCase, model: Model, tools: ToolRegistry, trace: Trace, steps: int = 8
) -> None:
    messages: list[Message] = [
        {"role": "system", "content": _REACT.format(tools=tool_catalog(tools))},
        {"role": "user", "content": f"Question: {case.query}"},
    ]
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
        observation = await _run(tasks, tools, trace, after=last)
        last = frozenset({tasks[0].id})
        messages.append({"role": "user", "content": f"Observation: {observation}"})
    trace.error = f"no answer after {steps} steps"


_PFC = """\
Answer the question with the tools below. In each turn, reply with ONLY a JSON list of
the tool calls to make now, all at once: [{{"tool": "name", "args": {{...}}}}, ...]
You will get their results and may call more. When you know the answer, reply with
ONLY: {{"answer": "..."}}
Tools:
{tools}"""


async def _parallel_fc(
    case: EvalCase, model: Model, tools: ToolRegistry, trace: Trace, turns: int = 5
) -> None:
    messages: list[Message] = [
        {"role": "system", "content": _PFC.format(tools=tool_catalog(tools))},
        {"role": "user", "content": f"Question: {case.query}"},
    ]
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
            number = len(trace.calls) + len(tasks) + 1
            tasks.append(PlanTask(number, item["tool"], args if isinstance(args, dict) else {}))
        if not tasks:
            messages.append({"role": "user", "content": "Results: no known tool was called"})
            continue
        observation = await _run(tasks, tools, trace, after=last)
        last = frozenset(t.id for t in tasks)
        messages.append({"role": "user", "content": f"Results:\n{observation}"})
    trace.error = f"no answer after {turns} turns"


def _json(text: str) -> Any:
    match = re.search(r"(\[.*\]|\{.*\})", text, re.S)
    if not match:
        return None
    try:
        return json.loads(match.group(1))
    except json.JSONDecodeError:
        return None


async def _run(
    tasks: Sequence[PlanTask], tools: ToolRegistry, trace: Trace, *, after: frozenset[int]
) -> str:
    """Run calls together, record them, and describe their results, one line each.

    Each call is recorded as depending on the previous step's calls.
    """
    outcome = await execute(tasks, tools)
    lines = []
    for task in tasks:
        result = outcome.results[task.id]
        trace.calls.append(Call(task.id, task.tool, result.args or {}, after))
        if result.state is TaskState.SUCCEEDED:
            lines.append(f"{task.tool}: {render_text(result.value)[:1500]}")
        else:
            lines.append(
                f"{task.tool}: error: {result.error.message if result.error else result.reason}"
            )
    return "\n".join(lines)


def placeholder_args(tool: Tool) -> dict[str, object]:
    """Values for a tool's required arguments, from their types.

    For gold plans that name their calls without arguments.
    """
    props = tool.parameters.get("properties", {})
    values = {
        "string": "x",
        "integer": 1,
        "number": 1.0,
        "boolean": True,
        "array": [],
        "object": {},
    }
    out: dict[str, object] = {}
    for name in tool.required_names:
        prop = props.get(name, {})
        enum = prop.get("enum") if isinstance(prop, dict) else None
        kind = prop.get("type") if isinstance(prop, dict) else None
        out[name] = (
            enum[0] if enum else values.get(kind if isinstance(kind, str) else "string", "x")
        )
    return out


class _OraclePlanner(Planner):
    """Yields a fixed plan of tasks (the gold one, possibly perturbed), no model call."""

    def __init__(self, tasks: Sequence[PlanTask]) -> None:
        super().__init__(FunctionModel(lambda m, s: ""))
        self.tasks = list(tasks)

    def plan(self, request: str, tools: Sequence[Tool], **kwargs: Any) -> PlanDraft:
        async def items() -> AsyncIterator[PlanItem]:
            for task in self.tasks:
                yield task

        draft = PlanDraft(items(), tasks=list(self.tasks))  # type: ignore[arg-type]
        draft.started_at = time.perf_counter()
        return draft


def oracle_tasks(case: EvalCase, tools: ToolRegistry, perturb: str | None = None) -> list[PlanTask]:
    """The case's gold plan as tasks; perturbed on request (drop, swap, falsedep)."""
    calls = list(case.calls)
    if perturb == "drop" and calls:
        dropped = calls.pop()
        calls = [Call(c.id, c.tool, c.args, c.deps - {dropped.id}) for c in calls]
    tasks = []
    for call in calls:
        tool = tools.get(call.tool)
        args: dict[str, Arg] = {**(placeholder_args(tool) if tool else {}), **call.args}  # type: ignore[dict-item]
        tasks.append(PlanTask(call.id, call.tool, args, deps=call.deps))
    if perturb == "swap" and tasks:
        first = tasks[0]
        swapped = {k: f"{v}-swapped" if isinstance(v, str) else v for k, v in first.args.items()}
        tasks[0] = PlanTask(first.id, first.tool, swapped, deps=first.deps)
    if perturb == "falsedep" and len(tasks) >= 2:
        last = tasks[-1]
        extra = next((t.id for t in tasks[:-1] if t.id not in last.deps), None)
        if extra is not None:
            tasks[-1] = PlanTask(last.id, last.tool, last.args, deps=last.deps | {extra})
    return tasks


async def _oracle(case: EvalCase, tools: ToolRegistry, trace: Trace, perturb: str | None) -> None:
    answer = case.answer or "done"
    agent = Agent(
        FunctionModel(lambda m, s: f"Action: Finish({answer})"),
        tools,
        max_tasks=1000,
        decompose=False,
        retrieve_above=10_000,
    )
    agent.planner = _OraclePlanner(oracle_tasks(case, tools, perturb))
    await _llmcompiler_run(agent, case, trace)


async def _llmcompiler_run(agent: Agent, case: EvalCase, trace: Trace) -> None:
    try:
        result = await agent.run(case.query)
    except ToolweaveError as exc:
        trace.error = str(exc)
        if exc.result is None:
            return
        result = exc.result
    finally:
        agent.close()
    trace.answer = result.answer
    trace.usage = result.usage
    trace.llm_calls = len(result.calls)
    trace.replans = result.replans
    for r in result.tasks.values():  # the plan's calls, whether they ran or not
        args = r.args if r.args is not None else _planned(r.task)
        trace.calls.append(Call(r.task.id, r.task.tool, args, r.task.deps))


def _planned(task: PlanTask) -> dict[str, object]:
    """A task's arguments as planned (refs as ``$N`` text), for a call that never ran."""
    return {k: str(v) if isinstance(v, Ref | Template) else v for k, v in task.args.items()}


STRATEGIES = (
    "llmcompiler",
    "react",
    "parallel-fc",
    "oracle",
    "oracle-drop",
    "oracle-swap",
    "oracle-falsedep",
)


async def run_strategy(
    name: str, case: EvalCase, model: Model | None, tools: ToolRegistry
) -> Trace:
    """Run one strategy on one case with these (simulated) tools."""
    trace = Trace()
    start = time.perf_counter()
    if name.startswith("oracle"):
        perturb = name.partition("-")[2] or None
        await _oracle(case, tools, trace, perturb)
    else:
        if model is None:
            raise ValueError(f"strategy {name} needs a model")
        runner = {"llmcompiler": _llmcompiler, "react": _react, "parallel-fc": _parallel_fc}[name]
        await runner(case, model, tools, trace)
    trace.wall = time.perf_counter() - start
    return trace
