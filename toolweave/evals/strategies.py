"""Strategies under evaluation, all with the same model, tools and cases.

- ``llmcompiler``: the toolweave Agent (streaming plan, parallel execution, joiner).
- ``react``: Thought / Action / Observation, one tool per model call.
- ``parallel-fc``: each model call may ask for several calls, run together, repeated
  until an answer: OpenAI-style parallel function calling, native where the model has
  it (an OpenAI-compatible endpoint), else emulated with a JSON-list prompt (the local
  model). ``parallel-fc-json`` always emulates (endpoints without ``tools``).
- ``oracle``: the gold plan, fed to the agent's fetcher and joiner; it must score 1.0 on
  selection and structure. Perturbed oracles (``oracle-drop``, ``oracle-swap``,
  ``oracle-falsedep``) must score lower by the expected amounts.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence

from toolweave.agent import Agent
from toolweave.errors import ModelError, ToolweaveError
from toolweave.evals.cases import EvalCase, Missing
from toolweave.evals.metrics import Call, _number, _truth
from toolweave.evals.parallel_fc import PFC_EXAMPLES, parallel_fc, pfc_examples
from toolweave.evals.react import REACT_EXAMPLES, react, react_examples
from toolweave.evals.trace import Trace
from toolweave.fetcher import TaskResult
from toolweave.models import Model
from toolweave.models.testing import FunctionModel
from toolweave.plan import Arg, PlanItem, PlanTask, Ref, Template
from toolweave.planner import EarlierPlan, PlanDraft, plan_examples
from toolweave.tools import Tool, ToolRegistry

__all__ = ["STRATEGIES", "oracle_tasks", "placeholder_args", "run_strategy"]


async def _llmcompiler(case: EvalCase, model: Model, tools: ToolRegistry, trace: Trace) -> None:
    agent = Agent(
        model,
        tools,
        examples=plan_examples(case.examples) if case.examples else None,
        max_replans=1,
        max_tasks=1000,
        decompose=False,
        retrieve_above=10_000,
    )
    await _llmcompiler_run(agent, case, trace)


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


class _OraclePlanner:
    """Yields a fixed plan of tasks (the gold one, possibly perturbed), no model call.

    An `Agent(planner=...)` seam: it has `Planner.plan`'s signature.
    """

    def __init__(self, tasks: Sequence[PlanTask]) -> None:
        self.tasks = list(tasks)

    def plan(
        self,
        request: str,
        tools: Sequence[Tool],
        *,
        earlier: Sequence[EarlierPlan] = (),
        history: Sequence[TaskResult] = (),
        known_ids: Iterable[int] = (),
        unavailable: Mapping[int, str] | None = None,
        max_tokens: int | None = None,
    ) -> PlanDraft:
        async def items() -> AsyncGenerator[PlanItem, None]:
            for task in self.tasks:
                yield task

        draft = PlanDraft(items(), tasks=list(self.tasks))
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
        gold = _typed(tool, call.args) if tool else dict(call.args)
        args: dict[str, Arg] = {**(placeholder_args(tool) if tool else {}), **gold}  # type: ignore[dict-item]
        tasks.append(PlanTask(call.id, call.tool, args, deps=call.deps))
    if case.missing is not None and "ask_user" in tools:  # ask for it, pass the answer on
        tasks = _asking(tasks, case.missing, 1 + max((t.id for t in tasks), default=0))
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


def _typed(tool: Tool, args: Mapping[str, object]) -> dict[str, object]:
    """Gold values as the schema types them: the datasets write some numbers as text."""
    props = tool.parameters.get("properties", {})
    out = dict(args)
    for name, value in args.items():
        kind = props.get(name, {}).get("type") if isinstance(props.get(name), dict) else None
        if kind in ("integer", "number") and isinstance(value, str):
            number = _number(value)
            if number is not None:
                out[name] = int(number) if kind == "integer" and number.is_integer() else number
        elif kind == "boolean" and not isinstance(value, bool):
            truth = _truth(value)  # "true", "yes", 1 ...: ShortcutsBench's equality
            if truth is not None:
                out[name] = truth
    return out


def _asking(tasks: list[PlanTask], missing: Missing, ask_id: int) -> list[PlanTask]:
    """`tasks` after an ``ask_user`` task whose answer fills the missing argument."""
    ask = PlanTask(ask_id, "ask_user", {"question": f"What is the {missing.parameter}?"})
    out = [ask]
    for task in tasks:
        if task.id == missing.call:
            args = {**task.args, missing.parameter: Ref(ask_id)}
            task = PlanTask(task.id, task.tool, args, deps=task.deps | {ask_id})
        out.append(task)
    return out


async def _oracle(case: EvalCase, tools: ToolRegistry, trace: Trace, perturb: str | None) -> None:
    answer = case.answer or "done"
    agent = Agent(
        FunctionModel(lambda m, s: f"Action: Finish({answer})"),
        tools,
        max_tasks=1000,
        decompose=False,
        retrieve_above=10_000,
        planner=_OraclePlanner(oracle_tasks(case, tools, perturb)),
    )
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
    trace.rejected = sum(len(p.rejected) for p in result.plans)
    trace.cut = sum(p.cut is not None for p in result.plans)
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
    "parallel-fc-json",
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
        try:
            if name == "llmcompiler":
                await _llmcompiler(case, model, tools, trace)
            elif name == "react":
                examples = react_examples(case.examples) if case.examples else REACT_EXAMPLES
                await react(case.query, model, tools, trace, examples=examples)
            elif name.startswith("parallel-fc"):
                native = False if name == "parallel-fc-json" else None
                examples = pfc_examples(case.examples) if case.examples else PFC_EXAMPLES
                await parallel_fc(case.query, model, tools, trace, native=native, examples=examples)
            else:
                raise ValueError(f"unknown strategy {name!r}")
        except ModelError as exc:  # the case's error, not the whole run's
            trace.error = str(exc)
    trace.wall = time.perf_counter() - start
    return trace
