"""Results as a model reads them: unambiguous numbers, fenced data, compact status.

Three things small models get wrong, each fixed here rather than hoped for:

- ``5824168.0`` is read with its ``.0`` as digits (answers ten times too large): an
  integral float is written as an integer, and large numbers are grouped
  (``5,824,168``).
- A tool result is data, never an instruction: every result sits on one line inside a
  fence (`FENCE_OPEN` ... `FENCE_CLOSE`) that the prompts tell the model never to
  follow, and a result cannot close the fence or start a line of its own.
- "Which is the largest" needs the values side by side: results of one tool that are
  numbers are listed again, sorted, with what tells them apart.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
from collections.abc import Iterable, Sequence

import pydantic

from toolweave.errors import PlanError
from toolweave.fetcher import TaskResult, TaskState
from toolweave.plan import format_call
from toolweave.tools import Tool

__all__ = [
    "FENCE_CLOSE",
    "FENCE_OPEN",
    "comparisons",
    "fenced_results",
    "observation",
    "render_value",
    "status_summary",
]

FENCE_OPEN = "<results>"
FENCE_CLOSE = "</results>"
_MAX_OBSERVATION = 1_500
_MAX_CALL = 300
_MAX_PLAN_CALL = 64
"""Longer calls are shown as ``tool(...)`` after a plan that holds them (see `observation`)."""
_RESULTS_BUDGET = 6_000
"""Characters of values one results block shares out (each line gets at least 300)."""
_GROUP_FROM = 10_000
_MAX_LABEL = 40


def render_value(value: object) -> str:
    """A tool's value as a model should read it.

    Integral floats lose their ``.0``; numbers of 10,000 and more are grouped with
    commas; other floats keep at most 6 decimals. Containers, pydantic models and
    dataclasses are JSON, with their numbers ungrouped (a comma would read as a
    separator there) but without ``.0``; an enum reads as its value, a date in ISO form.
    """
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value, group=True)
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(_plain(value), ensure_ascii=False, default=str)
    plain = _structured(value)
    if plain is value:
        return str(value)
    return render_value(plain)


def _number(value: float, *, group: bool) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e18:
            value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if group and abs(value) >= _GROUP_FROM else str(value)
    text = f"{value:,.6f}" if group and abs(value) >= _GROUP_FROM else f"{value:.6f}"
    return text.rstrip("0").rstrip(".")


def _plain(value: object) -> object:
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        return int(value) if value.is_integer() else round(value, 6)
    if isinstance(value, str | int | None):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    plain = _structured(value)
    return value if plain is value else _plain(plain)


def _structured(value: object) -> object:
    """A typed value as the plain data it holds, or `value` itself.

    Pydantic models and dataclasses become their fields (as JSON would hold them), an
    enum its value, a set a sorted list, a date its ISO form, a Decimal a number.
    """
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def observation(result: TaskResult, *, resolved: bool = True, limit: int = _MAX_OBSERVATION) -> str:
    """One task and what became of it, on one line: ``$N = call -> value``.

    A call that ran shows its resolved arguments (the values its refs stood for), so
    that the reader needs no bookkeeping of `$N`. With `resolved=False` it shows the
    call as the plan wrote it (``$N`` refs left in), for a reader whose conversation
    holds the plan and its values just above: the resolved numbers cost a token a
    digit. There a call longer than 64 characters is shortened to ``tool(...)``: the
    plan line above says it whole. (Leaving every call out, ``$N = value``, was tried
    and dropped: the local model then lost which value was which, and 4 of 30
    countries answers went wrong; their calls, ``area(country="Chile")``, are short.)
    The call and the value (at `limit` characters) are clipped, kept on one line, and
    cannot close the results fence: a resolved argument can hold another tool's output.
    """
    task = result.task
    args = result.args
    if args is not None and resolved:
        call = format_call(task.tool, {k: _plain(v) for k, v in args.items()})
    else:
        call = task.call_text()
        if not resolved and len(call) > _MAX_PLAN_CALL:
            call = f"{task.tool}(...)"
    head = f"${task.id} = {_data(call, _MAX_CALL)} ->"
    if result.state is TaskState.SUCCEEDED:
        return f"{head} {_data(render_value(result.value), limit)}"
    if result.state is TaskState.FAILED and result.error is not None:
        return f"{head} ERROR: {_data(result.error.message, limit)}"
    if result.state is TaskState.SKIPPED:
        return f"{head} SKIPPED: {_data(result.reason or '', limit)}"
    return f"{head} (did not finish)"


def _data(text: str, limit: int = _MAX_OBSERVATION) -> str:
    """Tool output made inert: one line, clipped, unable to close or reopen the fence."""
    text = " ".join(text.split())
    text = text.replace(FENCE_CLOSE, "</ results>").replace(FENCE_OPEN, "< results>")
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"


def fenced_results(
    results: Sequence[TaskResult], rejected: Sequence[PlanError] = (), *, resolved: bool = True
) -> str:
    """Every result, error, skip and rejected line, inside the results fence.

    `resolved=False` shows each call as the plan wrote it (see `observation`). The values
    share about 6,000 characters (at least 300 each, at most 1,500): many large JSON
    results would otherwise outgrow a small model's context.
    """
    limit = min(_MAX_OBSERVATION, max(_MAX_CALL, _RESULTS_BUDGET // max(len(results), 1)))
    lines = [observation(r, resolved=resolved, limit=limit) for r in results]
    lines = lines or ["(no call ran)"]
    lines += [f"(rejected line) {_data(e.line)} -> {_data(e.reason)}" for e in rejected]
    return "\n".join([FENCE_OPEN, *lines, FENCE_CLOSE])


def status_summary(
    results: Sequence[TaskResult], rejected: Sequence[PlanError] = (), offered: Iterable[Tool] = ()
) -> str:
    """What went wrong, compactly: failed, skipped, rejected, and tools never called."""
    failed = [f"${r.task.id}" for r in results if r.state is TaskState.FAILED]
    skipped = [f"${r.task.id}" for r in results if r.state is TaskState.SKIPPED]
    ok = sum(r.state is TaskState.SUCCEEDED for r in results)
    parts = [f"{ok} of {len(results)} calls succeeded"]
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    if skipped:
        parts.append(f"skipped: {', '.join(skipped)}")
    if rejected:
        parts.append(f"{len(rejected)} plan line(s) rejected")
    used = {r.task.tool for r in results}
    unused = [t.name for t in offered if t.name not in used]
    if unused:
        parts.append(f"tools offered but not called: {', '.join(unused)}")
    return "Status: " + "; ".join(parts) + "."


def comparisons(results: Sequence[TaskResult]) -> list[str]:
    """For each tool that returned two or more numbers, those numbers, largest first.

    Each value is labelled with the arguments that tell its calls apart, e.g.
    ``area: largest Canada 9,984,670; then Peru 1,285,216; smallest Chile 756,102``.
    Tools told apart by long arguments (a calculator's expressions) are left out.
    """
    by_tool: dict[str, list[tuple[float, dict[str, object]]]] = {}
    for r in results:
        value = r.value
        if (
            r.state is TaskState.SUCCEEDED
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and r.args is not None
        ):
            by_tool.setdefault(r.task.tool, []).append((value, r.args))
    lines = []
    for tool, group in by_tool.items():
        if len(group) < 2:
            continue
        args = [a for _, a in group]
        keys = [k for k in args[0] if len({json.dumps(a.get(k), default=str) for a in args}) > 1]
        labels = [" ".join(_label(a.get(k)) for k in keys) for a in args]
        if not keys or max(map(len, labels)) > _MAX_LABEL:
            continue
        ranked = sorted(
            zip(labels, (v for v, _ in group), strict=True), key=lambda p: p[1], reverse=True
        )
        items = [f"{label} {_number(v, group=True)}" for label, v in ranked]
        middle = f"; then {', '.join(items[1:-1])}" if len(items) > 2 else ""
        lines.append(f"{tool}: largest {items[0]}{middle}; smallest {items[-1]}")
    return lines


def _label(value: object) -> str:
    return _data(value if isinstance(value, str) else json.dumps(value, default=str))[:60]
