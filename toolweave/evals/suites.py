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
from collections.abc import Sequence
from typing import TypeVar

from toolweave.errors import UserError
from toolweave.evals.cases import EvalCase, Suite
from toolweave.evals.metrics import Call
from toolweave.evals.registries import _read, load_autotools, load_shortcutsbench, safe_name
from toolweave.evals.shortcuts import shortcutsbench_cases
from toolweave.evals.workflow import parse_workflow
from toolweave.tools import Tool, ToolRegistry

__all__ = ["search_tools", "seeded_sample", "suites"]


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
