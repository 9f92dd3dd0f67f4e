"""Scoring a run's tool calls against a gold plan: selection, arguments, data flow.

Calls are compared as multisets of tool names (a tool called three times counts three
times). Plans are compared as DAGs after matching each predicted call to a gold call of
the same tool, in order; an edge counts when both of its ends matched and the gold
plan has the same edge.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Call",
    "Mean",
    "Scores",
    "api_scores",
    "argument_accuracy",
    "dag_edge_scores",
    "match_calls",
    "mean_ci",
    "values_equal",
]


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call of a plan: its id, tool, arguments and the calls it depends on."""

    id: int
    tool: str
    args: Mapping[str, object]
    deps: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision, recall and F1."""

    precision: float
    recall: float
    f1: float


def _prf(hits: int, predicted: int, gold: int) -> Scores:
    if predicted == 0 and gold == 0:
        return Scores(1.0, 1.0, 1.0)
    precision = hits / predicted if predicted else 0.0
    recall = hits / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1)


def api_scores(predicted: Sequence[str], gold: Sequence[str]) -> Scores:
    """API selection precision, recall and F1 over multisets of tool names."""
    hits = sum((Counter(predicted) & Counter(gold)).values())
    return _prf(hits, len(predicted), len(gold))


def match_calls(predicted: Sequence[Call], gold: Sequence[Call]) -> dict[int, int]:
    """Pair predicted calls with gold calls of the same tool, in order: {pred id: gold id}."""
    free: dict[str, list[int]] = {}
    for call in gold:
        free.setdefault(call.tool, []).append(call.id)
    pairs = {}
    for call in predicted:
        candidates = free.get(call.tool)
        if candidates:
            pairs[call.id] = candidates.pop(0)
    return pairs


def dag_edge_scores(predicted: Sequence[Call], gold: Sequence[Call]) -> Scores:
    """Edge precision, recall and F1 of the dependency DAGs, after matching calls."""
    pairs = match_calls(predicted, gold)
    gold_edges = {(dep, call.id) for call in gold for dep in call.deps}
    predicted_edges = [(dep, call.id) for call in predicted for dep in call.deps]
    hits = sum(
        1
        for dep, target in predicted_edges
        if dep in pairs and target in pairs and (pairs[dep], pairs[target]) in gold_edges
    )
    return _prf(hits, len(predicted_edges), len(gold_edges))


def values_equal(predicted: object, gold: object) -> bool:
    """ShortcutsBench's equality for primitive and enum values.

    Strings compare case- and space-insensitively, numbers by value (``"5"`` equals
    ``5.0``), booleans also from their usual spellings (``"true"``, ``"yes"``, ``1``).
    """
    if isinstance(gold, bool) or isinstance(predicted, bool):
        return _truth(predicted) is not None and _truth(predicted) == _truth(gold)
    gold_number, predicted_number = _number(gold), _number(predicted)
    if gold_number is not None and predicted_number is not None:
        return math.isclose(gold_number, predicted_number, rel_tol=1e-9, abs_tol=1e-9)
    return " ".join(str(predicted).lower().split()) == " ".join(str(gold).lower().split())


def _truth(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def argument_accuracy(predicted: Mapping[str, object], gold: Mapping[str, object]) -> float:
    """The share of gold arguments that the predicted call gives an equal value."""
    if not gold:
        return 1.0
    right = sum(1 for k, v in gold.items() if k in predicted and values_equal(predicted[k], v))
    return right / len(gold)


@dataclass(frozen=True, slots=True)
class Mean:
    """A mean with its 95% confidence interval (normal approximation)."""

    value: float
    low: float
    high: float
    n: int


def mean_ci(values: Sequence[float]) -> Mean:
    """The mean of `values` with a 95% confidence interval."""
    n = len(values)
    if n == 0:
        return Mean(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if n == 1:
        return Mean(mean, mean, mean, 1)
    half = 1.96 * statistics.stdev(values) / math.sqrt(n)
    return Mean(mean, mean - half, mean + half, n)
