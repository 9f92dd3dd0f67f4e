"""The report's plots as standalone SVG: no plotting library needed to read them."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_svg", "box_svg"]

_WIDTH = 760
_LEFT = 280
_ROW = 24
_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d")


def _frame(title: str, rows: int, footer: int = 0) -> tuple[list[str], int]:
    height = 44 + _ROW * rows + footer
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{_WIDTH}" height="{height}" fill="white"/>',
        f'<text x="8" y="18" font-weight="bold">{escape(title)}</text>',
    ], height


def bar_svg(title: str, values: Mapping[str, float]) -> str:
    """A horizontal bar per label, with its value."""
    parts, _ = _frame(title, len(values))
    top = max(values.values(), default=1.0) or 1.0
    span = _WIDTH - _LEFT - 60
    for i, (label, value) in enumerate(values.items()):
        y = 30 + i * _ROW
        length = int(span * value / top)
        parts += [
            f'<text x="8" y="{y + 15}">{escape(label)}</text>',
            f'<rect x="{_LEFT}" y="{y + 4}" width="{length}" height="{_ROW - 8}" '
            f'fill="{_COLORS[0]}"/>',
            f'<text x="{_LEFT + length + 6}" y="{y + 15}">{value:.3g}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def box_svg(title: str, groups: Mapping[str, Sequence[float]], unit: str = "s") -> str:
    """A distribution per label: every value as a dot, the quartile box, the median.

    Labels that share a prefix before ``/`` (a suite) share a color per suffix (a
    strategy), so strategies compare at a glance within each suite.
    """
    groups = {k: sorted(v) for k, v in groups.items() if v}
    parts, height = _frame(title, len(groups), footer=24)
    top = max((v[-1] for v in groups.values()), default=1.0) or 1.0
    span = _WIDTH - _LEFT - 30

    def x(value: float) -> float:
        return _LEFT + span * value / top

    colors: dict[str, str] = {}
    for i, (label, values) in enumerate(groups.items()):
        y = 30 + i * _ROW
        mid = y + _ROW / 2
        color = colors.setdefault(label.rpartition("/")[2], _COLORS[len(colors) % len(_COLORS)])
        q1, median, q3 = _quartiles(values)
        parts += [
            f'<text x="8" y="{y + 16}">{escape(label)}</text>',
            f'<line x1="{x(values[0]):.1f}" x2="{x(values[-1]):.1f}" y1="{mid}" y2="{mid}" '
            f'stroke="{color}"/>',
            f'<rect x="{x(q1):.1f}" y="{y + 5}" width="{max(x(q3) - x(q1), 1):.1f}" '
            f'height="{_ROW - 10}" fill="{color}" fill-opacity="0.35" stroke="{color}"/>',
            f'<line x1="{x(median):.1f}" x2="{x(median):.1f}" y1="{y + 3}" y2="{y + _ROW - 3}" '
            f'stroke="black" stroke-width="2"/>',
        ]
        parts += [
            f'<circle cx="{x(v):.1f}" cy="{mid}" r="2" fill="{color}" fill-opacity="0.7"/>'
            for v in values
        ]
    axis = height - 12
    for tick in range(5):
        value = top * tick / 4
        parts.append(
            f'<text x="{x(value):.1f}" y="{axis}" text-anchor="middle">{value:.3g} {unit}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
