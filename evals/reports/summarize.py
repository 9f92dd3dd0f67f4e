"""The tables of one evaluation run: accuracy, speed, tokens, replans, rejected lines.

    python evals/reports/summarize.py evals/reports/reference/countries [more runs ...]

Each run directory holds `results.jsonl` (measured), `record/calls.jsonl` (every model
call; committed gzipped, as `calls.jsonl.gz`) and, where the replay ran,
`replay/results.jsonl`. Speed-ups compare medians over the cases that every strategy
finished, measured in the same run; rejected plan lines (and plans cut where they began
to loop) are counted by the run itself where its rows say (from baseline8), else from
the prompts in the record (each names the rejected lines of the plan it reads).
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolweave.evals.suites import suites as all_suites

STRATEGIES = ("llmcompiler", "react", "parallel-fc")
QUALITY = ("answer_ok", "lookups_ok", "api_f1", "api_recall", "fanout_ok")
_REJECTED = re.compile(r"^\(rejected line\) (.*? -> .*)$", re.M)

Row = dict[str, Any]


def rows(path: Path) -> list[Row]:
    """The JSON lines of `path`, or of `path`.gz (none if neither exists)."""
    packed = path.with_name(path.name + ".gz")
    if path.exists():
        text = path.read_text()
    elif packed.exists():
        text = gzip.decompress(packed.read_bytes()).decode()
    else:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by an interruption
    return out


def rejected_lines(record: Path) -> dict[str, set[str]]:
    """Rejected plan lines per question, from every prompt of the record.

    A rejected line reaches the model in the results fence (the joiner's prompt, a
    replan's), and again in each later turn of the same conversation: lines are
    counted once per question. (Until baseline6 only the joiner prompts' were read,
    with the question's first line as the key, which missed multi-line questions.)
    """
    found: dict[str, set[str]] = defaultdict(set)
    for call in rows(record / "calls.jsonl"):
        messages = call["messages"]
        if len(messages) < 2:
            continue
        if str(messages[0]["content"]).startswith("You read the results"):  # its own prompt
            question = str(messages[-1]["content"]).split("\n\n<results>", 1)[0]
        else:  # the planner's conversation (a replan, or the joiner continuing it)
            question = str(messages[1]["content"])
        texts = "\n".join(str(m["content"]) for m in messages[1:])
        found[question.removeprefix("Question: ").strip()].update(_REJECTED.findall(texts))
    return found


def median(values: list[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def by_strategy(items: list[Row], suite: str) -> dict[str, dict[str, Row]]:
    """A suite's rows by strategy, then case id."""
    out: dict[str, dict[str, Row]] = defaultdict(dict)
    for r in items:
        if r["suite"] == suite:
            out[r["strategy"]][r["id"]] = r
    return out


def figures(cases: dict[str, Row], replayed: dict[str, Row], rejected: int) -> dict[str, float]:
    """One strategy's figures over the same cases."""
    out: dict[str, float] = {}
    for key in QUALITY:
        values = [r[key] for r in cases.values() if r.get(key) is not None]
        if values:
            out[key] = statistics.mean(values)
    out["latency"] = median([r["latency"] for r in cases.values()])
    if replayed:
        out["replayed"] = median([r["latency"] for r in replayed.values()])
    out["tokens"] = statistics.mean(
        r["evaluated_prompt_tokens"] + r["completion_tokens"] for r in cases.values()
    )
    out["calls"] = statistics.mean(r["llm_calls"] for r in cases.values())
    out["replanned"] = sum(r["replans"] > 0 for r in cases.values())
    out["rejected"] = rejected
    if cases and all("rejected_lines" in r for r in cases.values()):  # counted by the run
        out["rejected"] = sum(r["rejected_lines"] for r in cases.values())
        out["cut"] = sum(r["plans_cut"] for r in cases.values())
    out["errors"] = sum(r["error"] is not None for r in cases.values())
    return out


def render(title: str, table: dict[str, dict[str, float]]) -> list[str]:
    """One suite's figures as a Markdown table, a column per strategy."""
    names = list(table)
    lines = [f"### {title}", "", "| figure | " + " | ".join(names) + " |"]
    lines.append("|---|" + "---|" * len(names))

    def row(label: str, cell: Callable[[str], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(s) for s in names) + " |")

    def value(key: str, form: str, only: str | None = None) -> Callable[[str], str]:
        return lambda s: (
            "-" if only not in (None, s) else format(table[s].get(key, float("nan")), form)
        )

    def ratio(key: str) -> Callable[[str], str]:
        base = table["llmcompiler"][key]
        return lambda s: "-" if s == "llmcompiler" else f"{table[s][key] / base:.2f}x"

    for key in QUALITY:
        if key in table[names[0]]:
            row(key, value(key, ".2f"))
    row("median latency, CPU (s)", value("latency", ".1f"))
    row("llmcompiler's speed-up over it, CPU", ratio("latency"))
    if "replayed" in table[names[0]]:
        row("median latency replayed, 0.4 s + 80 tok/s (s)", value("replayed", ".2f"))
        row("llmcompiler's speed-up over it, replayed", ratio("replayed"))
    row("evaluated prompt + completion tokens per case", value("tokens", ".0f"))
    row("model calls per case", value("calls", ".2f"))
    row("cases that replanned", value("replanned", ".0f", "llmcompiler"))
    row("rejected plan lines", value("rejected", ".0f", "llmcompiler"))
    if "cut" in table.get("llmcompiler", {}):
        row("plans cut where they began to loop", value("cut", ".0f", "llmcompiler"))
    row("errors", value("errors", ".0f"))
    return [*lines, ""]


def summarize(run: Path) -> list[str]:
    """The table of one run directory, per suite, as Markdown lines."""
    measured, replayed = rows(run / "results.jsonl"), rows(run / "replay" / "results.jsonl")
    rejected = rejected_lines(run / "record")
    lines = []
    for suite in sorted({r["suite"] for r in measured}):
        queries = {c.id: c.query for c in all_suites()[suite].cases()}
        by, replay = by_strategy(measured, suite), by_strategy(replayed, suite)
        names = [s for s in STRATEGIES if s in by]
        common = set.intersection(*(set(by[s]) for s in names))
        table = {
            s: figures(
                {i: by[s][i] for i in common},
                {i: r for i, r in replay[s].items() if i in common},
                sum(len(rejected.get(queries[i].strip(), ())) for i in common),
            )
            for s in names
        }
        lines += render(f"{suite}: {len(common)} cases every strategy finished", table)
    return lines


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("\n".join(summarize(Path(arg))))  # noqa: T201
