"""Evaluation suites: cases with gold plans, over registries of simulated tools.

- ``shortcutsbench``: ShortcutsBench's shortcuts with the parameter values their
  actions need, some with one left out for the agent to ask for (see `shortcuts`).
- ``workflowllm``: 50 real Shortcuts workflows over the ShortcutsBench registry, with
  gold calls and DAG derived from their code.
- ``autotools``: AutoTools-Eval (the released ToolFlow benchmark), 80 queries in food,
  music, tmdb, weather, with gold calls and counts (fan-outs up to x37).
- ``restbench``: RestBench TMDB (100) and Spotify (57), gold API chains.
- ``countries``: ParallelQA-style questions over real country data, with the demo's
  real tools and gold answers computed from the data (see `countries`).
- ``parallelqa``, ``movie``, ``hotpotqa``: LLMCompiler's sets; their tools searched
  live Wikipedia, so offline the plan's structure is scored (the right number of
  independent searches, a combining step) against a simulated search.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from toolweave.errors import UserError
from toolweave.evals.metrics import Call
from toolweave.evals.registries import _read, load_autotools, load_shortcutsbench, safe_name
from toolweave.evals.shortcuts import shortcutsbench_cases
from toolweave.evals.workflow import parse_workflow
from toolweave.planner import WorkedExample
from toolweave.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from toolweave.evals.countries import Gold

__all__ = ["EvalCase", "Missing", "Suite", "seeded_sample", "suites"]


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


T = TypeVar("T")


def seeded_sample(items: Sequence[T], limit: int | None, seed: int = 0) -> list[T]:
    """`limit` items picked with `seed`, in their original order (all without a limit)."""
    if limit is not None and limit < 1:
        raise UserError(f"limit must be at least 1, not {limit}")
    if limit is None or limit >= len(items):
        return list(items)
    return [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), limit))]


def _chain(names: list[str]) -> tuple[Call, ...]:
    return tuple(
        Call(i, name, {}, frozenset({i - 1}) if i > 1 else frozenset())
        for i, name in enumerate(names, 1)
    )


def _workflowllm() -> list[EvalCase]:
    registry = load_shortcutsbench()
    cases = []
    for number, sample in enumerate(_read("workflowllm/data_samples.json")):
        plan = parse_workflow(sample["annotated_code"], sample["apis"])
        calls = []
        for c in plan.calls:
            name = safe_name(c.tool)
            known = registry.get(name)
            params = set(known.parameter_names) if known else set()
            args = {k: v for k, v in c.args.items() if k in params}  # the API's own arguments
            calls.append(Call(c.id, name, args, c.deps))
        cases.append(
            EvalCase("workflowllm", str(number), sample["query"], tuple(calls), ordered=True)
        )
    return cases


def _autotools() -> list[EvalCase]:
    known = set(load_autotools("food", "music", "tmdb", "weather").names)
    cases = []
    for case in _read("autotools/autotool.eval.json"):
        domain = case["dataset"]
        names = []
        for step in case["solution"]:  # ["GET_x", 3] (a call and its count) or "GET_x"
            api, count = (step[0], int(step[1])) if isinstance(step, list) else (step, 1)
            names += [safe_name(f"{domain}_{api}")] * count
        calls = tuple(Call(i, name, {}) for i, name in enumerate(names, 1))
        # the lists hold a few descriptions instead of endpoint names: offer real tools only
        offered = {safe_name(f"{domain}_{api}") for api in case["api_list"]} & known
        case_id = f"{domain}-{case['qid']}"  # qids restart in each domain
        cases.append(
            EvalCase("autotools", case_id, case["query"], calls, tools=tuple(sorted(offered)))
        )
    return cases


def _restbench() -> list[EvalCase]:
    cases = []
    for domain in ("tmdb", "spotify"):
        for number, case in enumerate(_read(f"autotools/{domain}.eval.json")):
            names = [safe_name(f"{domain}_{api}") for api in case["solution"]]
            offered = tuple(sorted({safe_name(f"{domain}_{api}") for api in case["api_list"]}))
            cases.append(
                EvalCase(
                    "restbench",
                    f"{domain}-{number}",
                    case["query"],
                    _chain(names),
                    ordered=True,
                    tools=offered,
                )
            )
    return cases


def search_tools() -> ToolRegistry:
    """LLMCompiler's two tools: a search (simulated offline) and arithmetic."""
    return ToolRegistry(
        [
            Tool.from_schema(
                "search",
                "Search Wikipedia for an entity and return the first paragraph about it.",
                {
                    "type": "object",
                    "properties": {"query": {"type": "string", "description": "An entity."}},
                    "required": ["query"],
                },
            ),
            Tool.from_schema(
                "math",
                "Solve a math problem stated in words or as an expression; "
                "may refer to earlier results.",
                {
                    "type": "object",
                    "properties": {"problem": {"type": "string", "description": "The problem."}},
                    "required": ["problem"],
                },
            ),
        ]
    )


def _parallelqa() -> list[EvalCase]:
    return [
        EvalCase(
            "parallelqa",
            str(c["id"]),
            c["question"],
            answer=str(c["answer"]),
            fanout=int(c["branch"]),
        )
        for c in _read("llmcompiler/parallelqa_dataset.json")
    ]


_MOVIES = re.compile(r"similar to (.*?)\s*\nOptions:\s*\n(.*)", re.S)


def _movie() -> list[EvalCase]:
    cases = []
    for c in _read("llmcompiler/movie_recommendations_formatted.json"):
        match = _MOVIES.search(c["question"])
        fanout = None
        if match:
            seen = [m for m in match.group(1).split(", ") if m.strip()]
            options = [o for o in match.group(2).splitlines() if o.strip()]
            fanout = len(seen) + len(options)
        cases.append(
            EvalCase("movie", str(c["id"]), c["question"], answer=c["answer"], fanout=fanout)
        )
    return cases


def _hotpotqa() -> list[EvalCase]:
    return [
        EvalCase("hotpotqa", str(c["id"]), c["question"], answer=str(c["answer"]), fanout=2)
        for c in _read("llmcompiler/hotpotqa_comparison.json")
    ]


def _country_tools(latency: float = 0.0) -> ToolRegistry:
    from toolweave.evals.countries import country_tools

    return country_tools(latency)


def _countries() -> list[EvalCase]:
    from toolweave.evals.countries import countries_cases

    return countries_cases()


def suites() -> dict[str, Suite]:
    """Every suite by name."""
    return {
        s.name: s
        for s in (
            Suite(
                "shortcutsbench",
                "1,899 shortcuts: API selection, parameter filling, asking for what is missing",
                load_shortcutsbench,
                shortcutsbench_cases,
                ("shortcutsbench",),
            ),
            Suite(
                "workflowllm",
                "50 real Shortcuts workflows, gold calls and DAG from their code",
                load_shortcutsbench,
                _workflowllm,
                ("shortcutsbench",),
            ),
            Suite(
                "autotools",
                "AutoTools-Eval (ToolFlow): 80 queries, gold calls with counts",
                lambda: load_autotools("food", "music", "tmdb", "weather"),
                _autotools,
                ("fan-out",),
            ),
            Suite(
                "restbench",
                "RestBench TMDB and Spotify: gold API chains",
                lambda: load_autotools("tmdb", "spotify"),
                _restbench,
            ),
            Suite(
                "countries",
                "165 questions over real country data, answers checked (demo tools)",
                _country_tools,
                _countries,
                ("fan-out", "real tools"),
                live=_country_tools,
            ),
            Suite(
                "parallelqa",
                "ParallelQA: fan-out 2-5, then math",
                search_tools,
                _parallelqa,
                ("fan-out",),
            ),
            Suite("movie", "Movie recommendation: 8 searches", search_tools, _movie, ("fan-out",)),
            Suite("hotpotqa", "HotpotQA comparison: 2 searches", search_tools, _hotpotqa),
        )
    }
