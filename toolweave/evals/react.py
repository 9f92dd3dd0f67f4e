"""ReAct, as its best users write it for a small model.

Thought / Action / Observation, one tool call per model call, with few-shot examples
(the planner's own two, in ReAct form, or a suite's worked examples), the model's
text cut after its first complete action (stop sequences, then the reader), a tolerant
reader (the first call of an Action line; ``Action`` with ``Action Input``), and
errors that say what to write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from toolweave.errors import PlanError
from toolweave.evals._loop_calls import complete, first_json, opening, run_calls
from toolweave.evals.trace import Trace
from toolweave.models import Model
from toolweave.plan import PlanParser, PlanTask, format_call
from toolweave.planner import WorkedExample, render_value
from toolweave.tools import ToolRegistry

__all__ = ["REACT_EXAMPLES", "ReactStep", "react", "react_examples", "read_react_step"]

_REACT = """\
Answer the question with the tools below, one tool call at a time.

Tools:
{tools}

Use exactly this format:
Thought: what to do next
Action: one call, tool_name(argument=value, ...)

Then stop: the call's result comes back as "Observation: ...". Repeat Thought and
Action until you can answer. Arguments are literal values: "strings" in double quotes,
numbers as digits; copy a number from an Observation to use it (a calculator call does
the arithmetic). When the Observations answer the question, write:
Thought: I know the answer
Final Answer: the answer, in one sentence with units

Examples (their tools may differ from yours):

{examples}"""

REACT_EXAMPLES = """\
Question: What is the combined population of Canada and Mexico?
Thought: I need the population of Canada first.
Action: population(country="Canada")
Observation: 38,000,000
Thought: Now the population of Mexico.
Action: population(country="Mexico")
Observation: 126,000,000
Thought: Add the two populations.
Action: calculator(expression="38000000 + 126000000")
Observation: 164,000,000
Thought: I know the answer
Final Answer: Canada and Mexico have 164,000,000 people together.

Question: Who directed the film that won Best Picture in 1998?
Thought: First find the film.
Action: search(query="Best Picture winner 1998")
Observation: Titanic won Best Picture at the 70th Academy Awards (1998).
Thought: Now find who directed Titanic.
Action: search(query="director of Titanic")
Observation: Titanic (1997) is a film written and directed by James Cameron.
Thought: I know the answer
Final Answer: James Cameron directed Titanic, the Best Picture winner of 1998."""
"""The planner's two default examples (`toolweave.planner.DEFAULT_EXAMPLES`), as ReAct."""


def react_examples(examples: Iterable[WorkedExample]) -> str:
    """Worked examples in ReAct's format: one call per step, each after its result."""
    blocks = []
    for example in examples:
        lines = [f"Question: {example.question}"]
        for index, call in enumerate(example.calls, 1):
            thought = call.note or (example.thought if index == 1 else "Next step.")
            lines.append(f"Thought: {thought}")
            lines.append(f"Action: {format_call(call.tool, example.resolved(index))}")
            lines.append(f"Observation: {render_value(call.result)}")
        lines += ["Thought: I know the answer", f"Final Answer: {example.answer}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


_REACT_STOP = ("Observation:", "\nQuestion:")
_STEP_TOKENS = 256
_ACTION = re.compile(r"^[\s*`]*Action[\s*`]*:[\s*`]*(.*)$", re.M | re.I)
_ACTION_INPUT = re.compile(r"^[\s*`]*Action Input[\s*`]*:\s*(.*)$", re.M | re.I)
_NEXT_STEP = re.compile(r"^[\s*`]*(Thought|Action|Observation|Question)[\s*`]*:", re.M | re.I)
_FINAL = re.compile(r"Final Answer[\s*`]*:\s*(.*)", re.S | re.I)


async def react(
    query: str,
    model: Model,
    tools: ToolRegistry,
    trace: Trace,
    steps: int = 10,
    *,
    examples: str = REACT_EXAMPLES,
) -> None:
    """The ReAct loop: one tool call per model call, each after the previous result.

    The model's text is cut after its first complete Action (or its Final Answer,
    whichever comes first); a step without a call it can run gets an Observation that
    says what to write instead.
    """
    messages = opening(_REACT, tools, query, examples=examples)
    last: frozenset[int] = frozenset()
    for _ in range(steps):
        text = await complete(model, messages, _REACT_STOP, trace, _STEP_TOKENS)
        step = read_react_step(text)
        messages.append({"role": "assistant", "content": step.text})
        if step.answer is not None:
            trace.answer = step.answer
            return
        if step.call is None:
            messages.append({"role": "user", "content": f"Observation: error: {step.error}"})
            continue
        number = len(trace.calls) + 1
        items = PlanParser(tools).feed(f"{number}. {step.call}\n")
        tasks = [t for t in items if isinstance(t, PlanTask)]
        if not tasks:
            errors = [e for e in items if isinstance(e, PlanError)]
            reason = _fix(errors[0].reason if errors else "no call found", step.call, tools)
            messages.append({"role": "user", "content": f"Observation: error: {reason}"})
            continue
        (observation,) = await run_calls(tasks[:1], tools, trace, after=last)
        last = frozenset({tasks[0].id})
        messages.append({"role": "user", "content": f"Observation: {observation}"})
    trace.error = f"no answer after {steps} steps"


@dataclass(frozen=True, slots=True)
class ReactStep:
    """What a ReAct reply says: a call to make, an answer, or what is wrong with it.

    Attributes:
        text: The reply cut after its first complete Action or at its Final Answer.
        call: The first call of the first Action line, as written (``f(x="a")``).
        answer: The Final Answer, when it comes before any Action.
        error: Why neither was found: what the model should write instead.
    """

    text: str
    call: str | None = None
    answer: str | None = None
    error: str | None = None


_FORMAT = 'write "Action: tool_name(argument=value)" to call a tool, or "Final Answer: ..."'


def read_react_step(text: str) -> ReactStep:
    """Read a ReAct reply tolerantly: the first call of its first Action line.

    ``Action: population(country="Chile") + population(country="Norway")`` is read as
    its first call; ``Action: f`` followed by ``Action Input: {"x": 1}`` (another
    common form) as ``f(x=1)``; a Final Answer before any Action ends the loop.
    """
    action = _ACTION.search(text)
    final = _FINAL.search(text)
    if final is not None and (action is None or final.start() < action.start()):
        answer = final.group(1)
        if after := _NEXT_STEP.search(answer):  # the model went on to a made-up step
            answer = answer[: after.start()]
        return ReactStep(text[: final.start(1)] + answer.strip(), answer=answer.strip())
    if action is None:
        return ReactStep(text.strip(), error=f"no Action and no Final Answer: {_FORMAT}")
    line = action.group(1).strip().strip("`*").strip()
    call = _first_call(line)
    if call is None:
        given = _ACTION_INPUT.search(text, action.end())
        name = line.split()[0] if line.split() else ""
        if given is not None and name.isidentifier():
            call = _call_from_input(name, given.group(1).strip())
    if call is None:
        cut = text[: action.end()].strip()
        return ReactStep(cut, error=f"the Action {line!r} is not a call: {_FORMAT}")
    found = action.group(1).find(call)
    if found < 0:
        found = action.group(1).find(call.split("(")[0])
    end = action.start(1) + max(found, 0)
    return ReactStep(f"{text[:end]}{call}".strip(), call=call)


def _first_call(line: str) -> str | None:
    """The first ``name(...)`` in `line`, with balanced brackets outside strings."""
    match = re.search(r"[A-Za-z_]\w*\s*\(", line)
    if match is None:
        return None
    depth, quote, escaped = 0, "", False
    for i in range(match.end() - 1, len(line)):
        char = line[i]
        if quote:
            escaped = char == "\\" and not escaped
            if char == quote and not escaped:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return line[match.start() : i + 1]
    return None


def _call_from_input(name: str, given: str) -> str:
    """``name(...)`` from an Action Input: a JSON object, or ``key=value`` text."""
    payload = first_json(given)[0]
    if isinstance(payload, dict):
        return format_call(name, payload)
    return f"{name}({given.strip('()')})"


def _fix(reason: str, call: str, tools: ToolRegistry) -> str:
    """A parser's reason, and how to write the call right."""
    name = call.split("(")[0].strip()
    if name in tools:
        tool = tools[name]
        example = ", ".join(f"{p}=..." for p in tool.required_names)
        hint = f"call it as {name}({example}) with literal values"
    else:
        hint = f"the tools are {', '.join(tools.names)}"
    if "$" in call or "bare name" in reason:
        hint += '; write values themselves ("text" in quotes, numbers as digits), not names or $N'
    return f"{reason}; {hint}."
