"""The planner's and the joiner's prompts.

Each prompt keeps what does not change between calls (instructions, tools, examples)
in the system message and puts the request and the results last, so that servers'
prefix caches (and the local model's) reuse the long stable part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from toolweave.fetcher import TaskResult, TaskState
from toolweave.models import Message
from toolweave.plan import END_OF_PLAN, PlanError, format_call, render_text
from toolweave.tools import Tool

__all__ = [
    "DEFAULT_EXAMPLES",
    "joiner_messages",
    "observation",
    "planner_messages",
    "tool_catalog",
]

_MAX_OBSERVATION = 1_500

DEFAULT_EXAMPLES = f"""\
Question: What is the combined population of Canada and Mexico?
Thought: The two populations are independent lookups; then add them.
1. population(country="Canada")
2. population(country="Mexico")
3. calculator(expression="$1 + $2")
join()
{END_OF_PLAN}

Question: Who directed the film that won Best Picture in 1998?
Thought: First find the film, then look up its director.
1. search(query="Best Picture winner 1998")
2. search(query="director of $1")
join()
{END_OF_PLAN}"""
"""Few-shot examples in the plan format; their tools only illustrate the format."""

_PLANNER_RULES = f"""\
Write a plan of tool calls that answers the user's question.

Rules:
- One call per line: `N. tool_name(argument=value, ...)`, numbered in order.
- Only call the tools listed below, with their argument names.
- Values are literals: "strings" in double quotes, numbers, true/false, [lists].
- To use the result of an earlier call N, write $N: as a whole value (x=$1) or inside
  a string (expression="$1 * 2"). Never copy or guess a value a call will produce.
- Calls that do not depend on each other run in parallel: split independent work
  into separate calls, and do not chain calls that need not wait for each other.
- Use the fewest calls that answer the question.
- You may write one `Thought: ...` line before a call.
- End the plan with a line `join()` and then `{END_OF_PLAN}`."""

_JOINER_RULES = """\
You read the results of a plan of tool calls and answer the user's question.
Each result line shows a call with the values it was given, then `->` and what it
returned. The results are correct: trust them. Often the last result is the answer.

Reply in exactly this format:
Thought: <reason briefly about the results>
Action: Finish(<the answer: one short sentence that states it fully, with units>)

If the results cannot answer the question (a call failed, a needed value is missing,
the plan called the wrong tool), reply instead:
Thought: <what went wrong>
Action: Replan(<what the next plan must do differently>)

Answer only from the results; never invent facts or numbers.

Example:
Question: How many people live in Spain and Portugal together?
Results:
1. population(country="Spain") -> 47000000
2. population(country="Portugal") -> 10300000
3. calculator(expression="47000000 + 10300000") -> 57300000.0
Thought: The calculator added the two populations, which answers the question.
Action: Finish(Spain and Portugal have 57,300,000 people together.)"""


def tool_catalog(tools: Iterable[Tool]) -> str:
    """The tools as the planner reads them: a signature, then the description."""
    lines = []
    for tool in tools:
        lines.append(f"- {tool.signature()}")
        description = " ".join(tool.description.split())
        if description:
            lines.append(f"  {description}")
        if tool.returns:
            lines.append(f"  Returns: {' '.join(tool.returns.split())}")
    return "\n".join(lines)


def planner_messages(
    request: str,
    tools: Sequence[Tool],
    *,
    examples: str | None = None,
    history: Sequence[TaskResult] = (),
    rejected: Sequence[PlanError] = (),
    replan_reason: str | None = None,
    first_id: int = 1,
) -> list[Message]:
    """The planner's messages for a first plan or, with `history`, for a replan."""
    system = (
        f"{_PLANNER_RULES}\n\nTools:\n{tool_catalog(tools)}\n\n"
        f"Examples (their tools may differ from yours):\n\n{examples or DEFAULT_EXAMPLES}"
    )
    user = f"Question: {request}"
    if history or rejected or replan_reason:
        user += "\n\nAn earlier plan ran, with these results:\n"
        user += "\n".join(observation(r) for r in history)
        for error in rejected:
            user += f"\n(rejected line) {error.line} -> {error.reason}"
        if replan_reason:
            user += f"\n\nWhy it was not enough: {replan_reason}"
        user += (
            f"\n\nWrite a new plan that completes the answer. Number its calls from "
            f"{first_id}. You may use $N for the successful results above; do not repeat "
            "calls that succeeded. Write only the calls, not their results: the tools "
            "will run them."
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def joiner_messages(
    request: str,
    results: Sequence[TaskResult],
    rejected: Sequence[PlanError] = (),
    *,
    tools: Iterable[Tool] = (),
    must_finish: bool = False,
) -> list[Message]:
    """The joiner's messages: the question, every result, error or skip.

    `tools` adds one line per tool used, from its description (units, meaning).
    """
    body = "\n".join(observation(r) for r in results) or "(no call ran)"
    for error in rejected:
        body += f"\n(rejected line) {error.line} -> {error.reason}"
    user = f"Question: {request}\n\nResults:\n{body}"
    if tools:
        used = {r.task.tool for r in results}
        notes = [f"- {t.name}: {_first_sentence(t.description)}" for t in tools if t.name in used]
        if notes:
            user += "\n\nThe tools used:\n" + "\n".join(notes)
    if must_finish:
        user += "\n\nThis is the last round: reply with Action: Finish(...)."
    return [{"role": "system", "content": _JOINER_RULES}, {"role": "user", "content": user}]


def observation(result: TaskResult) -> str:
    """One task and what became of it, as a line a model can read.

    A call that ran shows its resolved arguments (the values its refs stood for), so
    that the reader needs no bookkeeping of `$N`.
    """
    task = result.task
    call = format_call(task.tool, result.args) if result.args is not None else task.call_text()
    head = f"{task.id}. {call}"
    if result.state is TaskState.SUCCEEDED:
        return f"{head} -> {_clip(render_text(result.value))}"
    if result.state is TaskState.FAILED and result.error is not None:
        return f"{head} -> ERROR: {result.error.message}"
    if result.state is TaskState.SKIPPED:
        return f"{head} -> SKIPPED: {result.reason}"
    return f"{head} -> (did not finish)"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _MAX_OBSERVATION:
        return text
    return text[:_MAX_OBSERVATION] + f"... ({len(text) - _MAX_OBSERVATION} more characters)"


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]
