"""The case model of the evaluation: a case, its gold answer, what it leaves out, a suite.

`EvalCase` is one task with its gold plan; `Gold` a gold answer that real tools can
produce, and how a reply is read against it (`toolweave.evals.countries.answer_ok`);
`Missing` a gold argument that the query leaves out, for the agent to ask for; `Suite`
a named set of cases and the registry of their tools. The loaders build them
(`toolweave.evals.suites` and the suites' own modules: `shortcuts`, `countries`,
`usercases`), and import this module, never one another's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from toolweave.evals.metrics import Call
from toolweave.planner import WorkedExample
from toolweave.tools import ToolRegistry

__all__ = ["EvalCase", "Gold", "Missing", "Suite"]


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One task of a suite.

    Attributes:
        suite: The suite's name.
        id: Unique within the suite.
        query: The user's request.
        calls: The gold plan (tool names as in the suite's registry), if known.
        ordered: Whether the gold plan's dependencies are known (else only its calls).
        answer: The gold answer, where the set has one.
        answer_checkable: Whether the tools can produce it: not for LLMCompiler's sets,
            whose search is simulated offline (their gold answers only feed the oracle).
        fanout: How many independent lookups the request needs (structure checks).
        fanout_tool: The tool those lookups call (``None``: any tool).
        tools: The tools offered for this case (a domain's), or all of the suite's.
        gold_partial: The gold calls are only some of those the task needs: selection
            is scored on recall, not precision.
        offer_gold: The gold tools are offered with the retriever's matches.
        ask_tool: The ``ask_user`` tool is offered, and its use scored.
        missing: A value that the query lacks; the simulated user gives it when asked.
        gold: The answer with its checker, where the tools are real (``countries``).
        examples: Solved questions for this case's tools, shown to every strategy in
            its own format (else each strategy's generic examples).
    """

    suite: str
    id: str
    query: str
    calls: tuple[Call, ...] = ()
    ordered: bool = False
    answer: str | None = None
    answer_checkable: bool = False
    fanout: int | None = None
    fanout_tool: str | None = "search"
    tools: tuple[str, ...] | None = None
    gold_partial: bool = False
    offer_gold: bool = False
    ask_tool: bool = False
    missing: Missing | None = None
    gold: Gold | None = None
    examples: tuple[WorkedExample, ...] = ()


@dataclass(frozen=True, slots=True)
class Missing:
    """A gold argument that the query leaves out.

    Attributes:
        call: The gold call's id.
        parameter: The argument's name.
        answer: The value as the user says it when asked.
    """

    call: int
    parameter: str
    answer: str


@dataclass(frozen=True, slots=True)
class Gold:
    """A gold answer and how to check a reply against it.

    Attributes:
        kind: ``number`` (a value, checked with a relative tolerance), ``entity`` (one
            of `options`, which must be the first option the reply names) or
            ``entities`` (every value must be named).
        value: The number, the entity or the entities.
        options: The entities a comparison chose among.
    """

    kind: Literal["number", "entity", "entities"]
    value: float | str | tuple[str, ...]
    options: tuple[str, ...] = ()

    def __str__(self) -> str:
        if isinstance(self.value, tuple):
            return ", ".join(self.value)
        if isinstance(self.value, float):
            return f"{self.value:,.6g}" if abs(self.value) < 1e6 else f"{self.value:,.0f}"
        return self.value


@dataclass(frozen=True, slots=True)
class Suite:
    """A named set of cases and the registry their tools come from.

    The built-in suites' tools are descriptions, simulated in an evaluation; a suite
    of your own cases (`toolweave.evals.usercases`) has real tools (`simulated` false).

    Attributes:
        name: The suite's name.
        description: One line about it.
        registry: Its tools' descriptions (simulated in evaluation, unless `live`).
        cases: Its cases.
        tags: Labels for lists.
        live: For a suite whose tools really run: its tools, given the seconds each
            lookup waits; they are used as they are instead of simulated.
    """

    name: str
    description: str
    registry: Callable[[], ToolRegistry]
    cases: Callable[[], list[EvalCase]]
    tags: tuple[str, ...] = field(default=())
    simulated: bool = True
    live: Callable[[float], ToolRegistry] | None = None
