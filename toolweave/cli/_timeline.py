"""A run as an SVG timeline: what ran when, and what waited for what.

The model calls come first (the planner's stream, with its first token marked; the
joiner; the decomposer), then one row per task, its bar from start to end, coloured by
how it ended. Dependencies are links from the end of a producer's bar to the start of
its consumer's. Read from `RunResult.to_dict()`, so a logged run draws as a live one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["timeline_svg"]

_COLOURS = {
    "succeeded": "#3a9d5d",
    "failed": "#d64545",
    "skipped": "#9aa0a6",
    "pending": "#e0a030",
    "running": "#e0a030",
    "planner": "#5b7fd6",
    "joiner": "#8a5bd6",
    "decomposer": "#5bb3d6",
}
_ROW = 22
_BAR = 14
_LABEL = 260
_PLOT = 640
_TOP = 34


def timeline_svg(run: Mapping[str, Any]) -> str:
    """The run (`RunResult.to_dict()` or a logged run) as an SVG document."""
    calls: Sequence[Mapping[str, Any]] = run.get("calls", ())
    tasks: Sequence[Mapping[str, Any]] = run.get("tasks", ())
    ends = [float(c["start"]) + float(c["duration"]) for c in calls]
    ends += [float(t["end"]) for t in tasks if t.get("end") is not None]
    span = max([float(run.get("wall_time") or 0.0), *ends, 1e-3])

    def x(t: float) -> float:
        return _LABEL + _PLOT * max(t, 0.0) / span

    rows = [f"{c['role']}" for c in calls] + [f"{t['id']}. {t['call']}" for t in tasks]
    height = _TOP + _ROW * len(rows) + 30
    width = _LABEL + _PLOT + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(str(run.get('request', '')))}</title>",
        '<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#555"/></marker></defs>',
        f'<text x="4" y="16" font-weight="bold">{escape(_clip(str(run.get("request", "")), 110))}'
        "</text>",
    ]
    out += _axis(span, x, height)
    row_of: dict[int, int] = {}
    for index, call in enumerate(calls):
        y = _TOP + _ROW * index
        start = float(call["start"])
        end = start + float(call["duration"])
        role = str(call["role"])
        out.append(_label(y, role))
        tip = f"{role}: {float(call['duration']):.3f}s, {call.get('prompt_tokens', 0)}+"
        tip += f"{call.get('completion_tokens', 0)} tokens"
        out.append(_bar(x(start), x(end), y, _COLOURS.get(role, "#777"), tip, "call"))
        first = call.get("first_token_at")
        if first is not None:  # the stream's first token: tasks may start from here
            fx = x(float(first))
            out.append(
                f'<line x1="{fx:.1f}" y1="{y + 2}" x2="{fx:.1f}" y2="{y + _BAR + 2}" '
                'stroke="#fff" stroke-width="2"/>'
            )
    for index, task in enumerate(tasks):
        row = len(calls) + index
        row_of[int(task["id"])] = row
        y = _TOP + _ROW * row
        state = str(task["state"])
        out.append(_label(y, f"{task['id']}. {task['call']}"))
        began, ended = task.get("start"), task.get("end")
        colour = _COLOURS.get(state, "#777")
        detail = task.get("error") or task.get("reason") or ""
        tip = f"{task['call']}: {state}" + (f" ({detail})" if detail else "")
        if began is None:  # never ran: a tick where it was given up
            at = x(float(ended)) if ended is not None else _LABEL
            out.append(_bar(at - 2, at + 2, y, colour, tip, f"task {state}"))
        else:
            stop = float(ended) if ended is not None else span
            out.append(_bar(x(float(began)), x(stop), y, colour, tip, f"task {state}"))
    for task in tasks:  # dependency links, drawn over the bars
        target = row_of[int(task["id"])]
        begin = task.get("start") if task.get("start") is not None else task.get("end")
        for dep in task.get("deps", ()):
            producer = next((t for t in tasks if int(t["id"]) == int(dep)), None)
            if producer is None or producer.get("end") is None or begin is None:
                continue  # a value from an earlier turn of the conversation
            x1, y1 = x(float(producer["end"])), _TOP + _ROW * row_of[int(dep)] + _BAR / 2 + 2
            x2, y2 = x(float(begin)), _TOP + _ROW * target + _BAR / 2 + 2
            out.append(
                f'<path class="dep" d="M{x1:.1f},{y1:.1f} C{x1 + 12:.1f},{y1:.1f} '
                f'{x2 - 12:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" fill="none" stroke="#555" '
                'stroke-width="1" marker-end="url(#arrow)"/>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _axis(span: float, x: Callable[[float], float], height: int) -> list[str]:
    step = _nice_step(span / 8)
    parts = []
    tick = 0.0
    while tick <= span + 1e-9:
        px = x(tick)
        parts.append(
            f'<line x1="{px:.1f}" y1="{_TOP - 4}" x2="{px:.1f}" y2="{height - 24}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{px:.1f}" y="{height - 10}" text-anchor="middle" fill="#555">'
            f"{tick:g}s</text>"
        )
        tick = round(tick + step, 9)
    return parts


def _nice_step(raw: float) -> float:
    for scale in (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0):
        for base in (1, 2, 5):
            if base * scale >= raw:
                return base * scale
    return raw


def _label(y: float, text: str) -> str:
    return f'<text x="4" y="{y + _BAR - 2}" fill="#222">{escape(_clip(text, 40))}</text>'


def _bar(x1: float, x2: float, y: float, colour: str, tip: str, kind: str) -> str:
    return (
        f'<rect class="{kind}" x="{x1:.1f}" y="{y + 2}" width="{max(x2 - x1, 1.5):.1f}" '
        f'height="{_BAR}" rx="2" fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def _clip(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"
