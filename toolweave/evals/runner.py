"""Run strategies over suites, score each case, append results, resume.

Results go to ``DIR/results.jsonl``, one line per (suite, strategy, case), written as
each case finishes: an interrupted run resumes where it stopped. `toolweave.evals.report`
turns them into the report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from toolweave.agent import ask_user_tool
from toolweave.cost import PriceTable
from toolweave.errors import UserError
from toolweave.evals.cases import EvalCase, Suite
from toolweave.evals.countries import answer_ok, lookups_made
from toolweave.evals.metrics import (
    api_scores,
    argument_accuracy,
    dag_edge_scores,
    match_calls,
)
from toolweave.evals.report import read_rows
from toolweave.evals.simulate import Simulation, simulate
from toolweave.evals.strategies import run_strategy
from toolweave.evals.suites import seeded_sample, suites
from toolweave.evals.trace import Trace
from toolweave.models import Model
from toolweave.retrieval import Retriever
from toolweave.tools import ToolRegistry

__all__ = [
    "PreparedSuite",
    "prepare_suite",
    "run_case",
    "run_eval",
    "run_settings",
    "score",
]

ASK_USER = "ask_user"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def score(case: EvalCase, trace: Trace) -> dict[str, Any]:
    """One case's metrics and costs (metrics that do not apply are left out)."""
    row: dict[str, Any] = {
        "latency": round(trace.wall, 4),
        "llm_calls": trace.llm_calls,
        "prompt_tokens": trace.usage.prompt_tokens,
        "cached_prompt_tokens": trace.usage.cached_prompt_tokens,
        "evaluated_prompt_tokens": trace.usage.evaluated_prompt_tokens,
        "completion_tokens": trace.usage.completion_tokens,
        "replans": trace.replans,
        "tool_calls": len(trace.calls),
    }
    if trace.rejected is not None:
        row |= {"rejected_lines": trace.rejected, "plans_cut": trace.cut or 0}
    calls = [c for c in trace.calls if c.tool != ASK_USER]  # asking is scored apart
    if case.calls:
        api = api_scores([c.tool for c in calls], [c.tool for c in case.calls])
        row["api_recall"] = api.recall
        if not case.gold_partial:  # a partial gold cannot tell a needless call
            row |= {"api_precision": api.precision, "api_f1": api.f1}
            row["exact"] = float(
                Counter(c.tool for c in calls) == Counter(c.tool for c in case.calls)
            )
    with_args = [c for c in case.calls if c.args]
    if with_args:
        pairs = {gold: pred for pred, gold in match_calls(calls, list(case.calls)).items()}
        made = {c.id: c for c in calls}
        row["arg_acc"] = sum(
            argument_accuracy(made[pairs[c.id]].args, c.args) if c.id in pairs else 0.0
            for c in with_args
        ) / len(with_args)
    if case.ordered and any(c.deps for c in case.calls):
        edges = dag_edge_scores(calls, list(case.calls))
        row["edge_f1"] = edges.f1
        row["flow_acc"] = edges.recall  # gold inputs (from task X) taken from X's match
    if case.fanout is not None:
        independent = [
            c
            for c in trace.calls
            if not c.deps and c.tool != ASK_USER and case.fanout_tool in (None, c.tool)
        ]
        row["fanout_ok"] = float(len(independent) == case.fanout)
    if case.ask_tool:
        asked = len(trace.calls) - len(calls)
        row["ask_ok"] = float(bool(asked) == (case.missing is not None))
    if case.gold is not None:
        row["answer_ok"] = float(answer_ok(case.gold, trace.answer))
        row["lookups_ok"] = float(lookups_made(case.calls, trace.calls))
    elif case.answer is not None and case.answer_checkable:
        row["answer_ok"] = float(
            bool(trace.answer) and _norm(case.answer) in _norm(trace.answer or "")
        )
    return row


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedSuite:
    """A suite ready to run: its sampled cases, its tools and their retriever."""

    name: str
    cases: list[EvalCase]
    registry: ToolRegistry
    retriever: Retriever | None

    def case(self, case_id: str) -> EvalCase:
        """The sampled case with this id."""
        return next(c for c in self.cases if c.id == case_id)


def prepare_suite(
    suite_name: str | Suite,
    *,
    limit: int | None = None,
    seed: int = 0,
    simulation: Simulation | None = None,
    live_latency: float = 0.0,
) -> PreparedSuite:
    """Sample a suite's cases and simulate its tools (the same for the same arguments).

    A `Suite` of your own cases keeps its real tools (`Suite.simulated` is false); a
    live suite's real tools are used as they are, each lookup waiting `live_latency`.
    """
    suite = suite_name if isinstance(suite_name, Suite) else suites()[suite_name]
    if suite.live is not None:
        registry = suite.live(live_latency)
    else:
        registry = suite.registry()
        if suite.simulated:
            registry = simulate(
                registry, simulation or Simulation(seed=seed), responders=_RESPONDERS
            )
    retriever = Retriever(registry) if len(registry) > _RETRIEVE_ABOVE else None
    return PreparedSuite(suite.name, seeded_sample(suite.cases(), limit, seed), registry, retriever)


def run_settings(
    model_name: str | None, seed: int, simulation: Simulation | None
) -> dict[str, Any]:
    """What rows depend on besides their case: a resumed run must have the same."""
    simulation = simulation or Simulation(seed=seed)
    return {"model": model_name, "seed": seed, "simulation": dataclasses.asdict(simulation)}


async def run_case(
    suite: PreparedSuite,
    strategy: str,
    case: EvalCase,
    model: Model | None,
    *,
    timing: str = "measured",
) -> dict[str, Any]:
    """Run one strategy on one case; its results.jsonl row.

    `timing` says how its latency was obtained: ``measured``, or a replay's pace.
    """
    tools = _offered(case, suite.registry, suite.retriever)
    if case.ask_tool:
        tools = ToolRegistry([*tools, ask_user_tool(_simulated_user(case))])
    trace = await run_strategy(strategy, case, model, tools)
    row = {"suite": suite.name, "strategy": strategy, "id": case.id, **score(case, trace)}
    row["error"], row["answer"] = trace.error, trace.answer
    if model is not None:  # None where the price is unknown; the local model costs 0
        row["cost"] = PriceTable().cost(model.name, trace.usage)
    row["timing"] = timing
    if trace.mode is not None:
        row["mode"] = trace.mode
    return row


async def run_eval(
    suite_name: str | Suite,
    strategies: Sequence[str],
    model: Model | None,
    out: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    concurrency: int = 1,
    simulation: Simulation | None = None,
    live_latency: float = 0.0,
    timing: str = "measured",
    case_ids: Collection[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Run `strategies` on a suite's cases; append each case's row to results.jsonl.

    `suite_name` names a built-in suite, or is a `Suite` (your own cases: see
    `toolweave.evals.usercases`), whose tools are simulated if it says so.

    Cases run one after another with every strategy on each, so that an interrupted
    run compares the strategies on the same cases.

    Args:
        suite_name: The suite.
        strategies: The strategies, each run on every case.
        model: The model of every strategy but the oracles.
        out: The results directory.
        limit: A seeded sample of this many cases; all without.
        seed: Seeds the sample and the simulated tools.
        concurrency: Cases run at once.
        simulation: How simulated tools behave.
        live_latency: Seconds each lookup of a live suite's real tools waits.
        timing: How the latencies were obtained, written on each row: ``measured``, or
            a replay's pace (``replayed at 0.4 s TTFT, 80 tokens/s``).
        case_ids: Only the cases with these ids (of the sample), if given.
        progress: Called with (cases done, cases to do) after each case.

    Raises:
        UserError: `out` holds results made with another model, seed or simulation
            (resuming into it would mix them), or `concurrency` or `limit` is below 1.
    """
    for name, value in (("concurrency", concurrency), ("limit", limit)):
        if value is not None and value < 1:  # checked before `out` is written to
            raise UserError(f"{name} must be at least 1, not {value}")
    results = _Results(out / "results.jsonl")
    results.claim(run_settings(model.name if model is not None else None, seed, simulation))
    suite = prepare_suite(
        suite_name, limit=limit, seed=seed, simulation=simulation, live_latency=live_latency
    )
    cases = [c for c in suite.cases if case_ids is None or c.id in case_ids]
    done = results.done()
    work = [(s, c) for c in cases for s in strategies if (suite.name, s, c.id) not in done]
    gate = asyncio.Semaphore(concurrency)
    finished = 0

    async def one(strategy: str, case: EvalCase) -> None:
        nonlocal finished
        async with gate:
            row = await run_case(suite, strategy, case, model, timing=timing)
        results.append(row)
        finished += 1
        if progress is not None:
            progress(finished, len(work))

    async with asyncio.TaskGroup() as group:
        for strategy, case in work:
            group.create_task(one(strategy, case))
    return results.path


class _Results:
    """results.jsonl: the rows so far; a row appended (and flushed) per finished case."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def claim(self, settings: dict[str, Any]) -> None:
        """Record the run's settings beside the rows, or check them against those there.

        Rows are resumed by (suite, strategy, case): a run with another model, seed or
        simulation must not add to them, or the report would mix the two silently.
        """
        path = self.path.with_name("settings.json")
        if not path.is_file():  # a new directory (or one from before settings were kept)
            path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
            return
        before = json.loads(path.read_text())
        differ = sorted(k for k in {*before, *settings} if before.get(k) != settings.get(k))
        if differ:
            changes = "; ".join(
                f"{k}: {before.get(k)!r} there, {settings.get(k)!r} now" for k in differ
            )
            raise UserError(
                f"{self.path.parent} holds results of another run ({changes}); choose "
                "another --out, or delete it to start over"
            )

    def done(self) -> set[tuple[str, str, str]]:
        """The (suite, strategy, case) of every row so far.

        A last line cut short (the run was killed mid-write) is ended, so that the
        next row starts on a line of its own; the case is run again.
        """
        if not self.path.is_file():
            return set()
        text = self.path.read_text()
        if text and not text.endswith("\n"):
            with self.path.open("a") as f:
                f.write("\n")
        return {(r["suite"], r["strategy"], r["id"]) for r in read_rows(self.path)}

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row, default=str) + "\n")


def _search(args: dict[str, Any], rng: random.Random) -> str:
    """A simulated encyclopedia entry: a definite, made-up fact about the query.

    Plans can go on and combine results; the facts are not the real ones.
    """
    query = str(args.get("query", "")).strip()
    return f"{query}: {rng.randrange(10, 9000)} (simulated encyclopedia entry)"


_RESPONDERS = {"search": _search}
_RETRIEVE_ABOVE = 40
_TOP_K = 12


def _offered(case: EvalCase, registry: ToolRegistry, retriever: Retriever | None) -> ToolRegistry:
    """The tools every strategy sees for a case.

    Its own list (with its gold tools), or the retriever's top matches in a large
    registry (with the gold tools if the case says so), or the whole small registry.
    """
    gold = {c.tool for c in case.calls}
    if case.tools:
        names = (set(case.tools) | gold) & set(registry.names)
        return ToolRegistry(registry[n] for n in sorted(names))
    if retriever is not None:
        hits = [hit.tool for hit in retriever.search(case.query, _TOP_K)]
        if case.offer_gold:
            hits += [registry[n] for n in sorted(gold - {t.name for t in hits}) if n in registry]
        return ToolRegistry(hits)
    return registry


def _simulated_user(case: EvalCase) -> Callable[[str], str]:
    """Answers ``ask_user`` for a case: the value the query left out, if any."""
    answer = case.missing.answer if case.missing else "Everything I know is in the request."
    return lambda question: answer
