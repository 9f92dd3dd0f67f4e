"""The report of an evaluation run: results.jsonl aggregated per suite and strategy.

``report()`` writes ``report.json`` (means with 95% intervals and medians; API-selection
F1 under ``api_f1``), ``report.md`` (with the llmcompiler / react / parallel-fc
comparison) and two SVG plots: the latency distribution per suite and strategy, and
accuracy by suite.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from toolweave.evals.metrics import mean_ci
from toolweave.evals.plots import bar_svg, box_svg
from toolweave.evals.strategies import STRATEGIES

__all__ = ["COSTS", "METRICS", "read_rows", "report"]

METRICS = (
    "api_f1",
    "api_precision",
    "api_recall",
    "exact",
    "arg_acc",
    "edge_f1",
    "flow_acc",
    "fanout_ok",
    "answer_ok",
    "lookups_ok",
    "ask_ok",
)
COSTS = (
    "latency",
    "llm_calls",
    "prompt_tokens",
    "cached_prompt_tokens",
    "evaluated_prompt_tokens",
    "completion_tokens",
    "cost",
    "replans",
    "tool_calls",
)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of results.jsonl; a line cut short by a kill mid-write is skipped."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def report(out: Path) -> dict[str, Any]:
    """Aggregate results.jsonl into report.json, report.md and plots; returns the data."""
    rows = read_rows(out / "results.jsonl")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["suite"], row["strategy"]), []).append(row)
    data: dict[str, Any] = {}
    for (suite, strategy), items in sorted(groups.items()):
        entry: dict[str, Any] = {"cases": len(items)}
        for key in METRICS + COSTS:
            values = [r[key] for r in items if r.get(key) is not None]
            if values:
                m = mean_ci(values)
                entry[key] = {
                    "mean": round(m.value, 4),
                    "low": round(m.low, 4),
                    "high": round(m.high, 4),
                    "median": round(statistics.median(values), 4),
                }
        entry["errors"] = sum(1 for r in items if r.get("error"))
        entry["timing"] = sorted({r.get("timing", "measured") for r in items})
        data.setdefault(suite, {})[strategy] = entry
    (out / "report.json").write_text(json.dumps(data, indent=2))
    (out / "report.md").write_text(_markdown(data))
    _plots(out, rows, data)
    return data


def _cell(entry: dict[str, Any], key: str, digits: int = 3) -> str:
    value = entry.get(key)
    if value is None:
        return "-"
    half = (value["high"] - value["low"]) / 2
    return f"{value['mean']:.{digits}f} ± {half:.{digits}f}"


_LEGEND = """\
Means per case with their 95% intervals; `-` where a metric does not apply.
api_*: API selection on multisets of tool names (recall only where the gold lists part
of the calls, as in shortcutsbench); exact: the same multiset; arg_acc: gold argument
values matched (ShortcutsBench's equality); edge_f1: the dependency DAG's edges after
matching calls; flow_acc: gold inputs taken from the right producer; fanout_ok: the
right number of independent searches; answer_ok: the gold answer in the reply (where
the tools can give it; on countries, a tolerant number or entity check); lookups_ok:
every lookup the question needs was made (countries); ask_ok: asked the user exactly
when a value was missing.
latency in seconds, end to end; tokens and cost (the model's price, USD; 0 for the local
model) per case: prompt_tokens all of every prompt, evaluated the part the model
evaluated (the rest was read from its prefix cache; `-` where the model does not say)."""


def _markdown(data: dict[str, Any]) -> str:
    lines = ["# Evaluation report", "", _LEGEND, ""]
    columns = [
        "strategy",
        "cases",
        *METRICS,
        "latency",
        "median latency",
        "llm_calls",
        "prompt_tokens",
        "evaluated",
        "completion_tokens",
        "cost",
        "errors",
    ]
    for suite, strategies in data.items():
        lines += [f"## {suite}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for strategy, entry in strategies.items():
            cells = [strategy, str(entry["cases"])]
            cells += [_cell(entry, k) for k in METRICS]
            median = entry.get("latency", {}).get("median")
            cells += [_cell(entry, "latency", 2), "-" if median is None else f"{median:.2f}"]
            cells.append(_cell(entry, "llm_calls", 1))
            cells += [_cell(entry, "prompt_tokens", 0), _cell(entry, "evaluated_prompt_tokens", 0)]
            cells.append(_cell(entry, "completion_tokens", 0))
            cells += [_cell(entry, "cost", 6), str(entry["errors"])]
            lines.append("| " + " | ".join(cells) + " |")
        timings = sorted({t for entry in strategies.values() for t in entry.get("timing", [])})
        if timings != ["measured"]:
            lines += ["", f"Latencies: {'; '.join(timings)} (not measured on the model)."]
        lines += _comparison(strategies)
        lines.append("")
    return "\n".join(lines)


def _comparison(strategies: dict[str, Any]) -> list[str]:
    """How llmcompiler compares with react and parallel-fc: speed (median), tokens, accuracy."""
    base = strategies.get("llmcompiler")
    if not base or "latency" not in base:
        return []
    lines = ["", "Against llmcompiler:", ""]
    for other in ("react", "parallel-fc"):
        entry = strategies.get(other)
        if not entry or "latency" not in entry:
            continue
        speedup = entry["latency"]["median"] / max(base["latency"]["median"], 1e-9)
        mean_speedup = entry["latency"]["mean"] / max(base["latency"]["mean"], 1e-9)
        tokens = _tokens(entry) / max(_tokens(base), 1e-9)
        line = (
            f"- {other}: llmcompiler is {speedup:.2f}x faster by median latency "
            f"({mean_speedup:.2f}x by mean); {other} uses {tokens:.2f}x its tokens (evaluated "
            "prompt and completion)"
        )
        for key in _ACCURACY:
            if key in base and key in entry:
                line += f"; {key} {base[key]['mean']:.3f} against {entry[key]['mean']:.3f}"
                break
        lines.append(line)
    return lines


def _tokens(entry: dict[str, Any]) -> float:
    """Evaluated prompt tokens (the whole prompt where unknown) and completion tokens."""
    prompt = entry.get("evaluated_prompt_tokens", entry.get("prompt_tokens", {}))
    return float(prompt.get("mean", 0) + entry.get("completion_tokens", {}).get("mean", 0))


def _plots(out: Path, rows: list[dict[str, Any]], data: dict[str, Any]) -> None:
    latencies: dict[str, list[float]] = {}
    for row in sorted(rows, key=lambda r: (r["suite"], _STRATEGY_ORDER.get(r["strategy"], 99))):
        latencies.setdefault(f"{row['suite']}/{row['strategy']}", []).append(row["latency"])
    (out / "latency.svg").write_text(
        box_svg("end-to-end latency per case, by suite and strategy", latencies)
    )
    accuracy = {}
    for suite, strategies in data.items():
        for strategy, entry in strategies.items():
            key = next((k for k in _ACCURACY if k in entry), None)
            if key is not None:
                accuracy[f"{suite}/{strategy} ({key})"] = entry[key]["mean"]
    (out / "accuracy.svg").write_text(bar_svg("accuracy by suite and strategy", accuracy))


_ACCURACY = ("answer_ok", "api_f1", "api_recall", "fanout_ok")
"""The accuracy shown per suite: the answer where checkable, else API F1, else recall
(partial gold), else structure."""


_STRATEGY_ORDER = {name: i for i, name in enumerate(STRATEGIES)}
