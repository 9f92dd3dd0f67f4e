"""Worked examples: one solved question, written once, shown in any method's format.

A `WorkedExample` holds a question, the calls that answer it (with what each returned)
and the answer. `plan_examples` writes examples as plans for the planner's prompt; the
evaluation's ReAct and parallel-function-calling baselines write the same examples in
their own formats, so every method is shown the same solved questions.

In a call's arguments (and in lists among them), a string that is exactly ``$N`` stands
for the result of call N as a whole value; ``$N`` inside a longer string (an
expression) stands for its value written into the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from toolweave.errors import UserError
from toolweave.plan import END_OF_PLAN

__all__ = ["ExampleCall", "WorkedExample", "plan_examples"]

_WHOLE_REF = re.compile(r"\$(\d+)")
_REF = re.compile(r"\$\{?(\d+)\}?")


@dataclass(frozen=True, slots=True)
class ExampleCall:
    """One call of a worked example.

    Attributes:
        tool: The tool's name.
        args: Its arguments; ``"$N"`` refers to call N's result (see the module).
        result: What the call returned.
        note: Why this call, for formats with a thought per call (ReAct).
    """

    tool: str
    args: Mapping[str, object]
    result: object
    note: str = ""


@dataclass(frozen=True, slots=True)
class WorkedExample:
    """A solved question: the calls that answer it, their results, the answer.

    Attributes:
        question: The user's question.
        thought: Why the calls are what they are (one line).
        calls: The calls, in order; call N is ``calls[N - 1]``.
        answer: The final answer, one sentence.

    Raises:
        UserError: A call refers to itself or to a later call.
    """

    question: str
    thought: str
    calls: tuple[ExampleCall, ...]
    answer: str
    deps: tuple[frozenset[int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        deps = []
        for index, call in enumerate(self.calls, 1):
            refs = {int(n) for value in call.args.values() for n in _refs(value)}
            if any(not 1 <= ref < index for ref in refs):
                raise UserError(f"call {index} of {self.question!r} refers to a later call")
            deps.append(frozenset(refs))
        object.__setattr__(self, "deps", tuple(deps))

    def rounds(self) -> list[list[int]]:
        """The calls' numbers grouped by dependency depth: what can run together."""
        depth: dict[int, int] = {}
        for index, refs in enumerate(self.deps, 1):
            depth[index] = 1 + max((depth[r] for r in refs), default=-1)
        groups: list[list[int]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for index, level in depth.items():
            groups[level].append(index)
        return groups

    def resolved(self, index: int) -> dict[str, object]:
        """Call `index`'s arguments with every ``$N`` replaced by call N's result."""

        def value(arg: object) -> object:
            if isinstance(arg, list):
                return [value(item) for item in arg]
            if isinstance(arg, str):
                whole = _WHOLE_REF.fullmatch(arg)
                if whole:
                    return self.calls[int(whole.group(1)) - 1].result
                return _REF.sub(lambda m: _plain(self.calls[int(m.group(1)) - 1].result), arg)
            return arg

        return {name: value(arg) for name, arg in self.calls[index - 1].args.items()}


def _refs(value: object) -> list[str]:
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return _REF.findall(value) if isinstance(value, str) else []


def _plain(value: object) -> str:
    """A result as it goes into an expression: digits only, no grouping, no ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def call_text(tool: str, args: Mapping[str, object], *, refs: bool) -> str:
    """``tool(name=value, ...)``; with `refs`, a whole ``"$N"`` is written bare."""

    def arg(value: object) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(arg(item) for item in value) + "]"
        if refs and isinstance(value, str) and _WHOLE_REF.fullmatch(value):
            return value
        return json.dumps(value, ensure_ascii=False)

    return f"{tool}({', '.join(f'{name}={arg(value)}' for name, value in args.items())})"


def plan_examples(examples: Iterable[WorkedExample], *, thoughts: bool = True) -> str:
    """The examples as plans, in the planner's format (for `Agent(examples=...)`).

    Without `thoughts`, the plans have no Thought line (nor will the model's).
    """
    blocks = []
    for example in examples:
        lines = [f"Question: {example.question}"]
        if thoughts:
            lines.append(f"Thought: {example.thought}")
        for index, call in enumerate(example.calls, 1):
            lines.append(f"{index}. {call_text(call.tool, call.args, refs=True)}")
        blocks.append("\n".join([*lines, "join()", END_OF_PLAN]))
    return "\n\n".join(blocks)
