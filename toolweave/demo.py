"""Demo tools with real answers: country facts, safe arithmetic, unit conversion.

Country data comes from the `countryinfo` package's bundled dataset (offline). Each
lookup waits `LATENCY` seconds first, to behave like the remote API it stands for, so
that a demo shows what parallel execution saves.

Use them from the command line: ``toolweave run "..." --tools toolweave.demo:TOOLS``.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import operator
import re
from collections.abc import Callable
from typing import Any

from toolweave.planner import ExampleCall, WorkedExample, plan_examples
from toolweave.tools import ToolRegistry, tool

__all__ = ["EXAMPLES", "LATENCY", "QUESTIONS", "TOOLS", "WORKED", "safe_eval"]

LATENCY = 0.4
"""Seconds each country lookup takes, as a remote API would."""


@functools.cache
def _country(name: str) -> dict[str, Any]:
    from countryinfo import CountryInfo  # an optional dependency: the demo's
    from countryinfo.exceptions import CountryNotFoundError

    try:
        info: dict[str, Any] = dict(CountryInfo(name.strip()).info())
    except (CountryNotFoundError, KeyError, ValueError) as exc:
        raise ValueError(f"unknown country {name!r}; use its common English name") from exc
    if not info:
        raise ValueError(f"unknown country {name!r}; use its common English name")
    return info


async def _lookup(country: str, field: str) -> Any:
    await asyncio.sleep(LATENCY)  # the round trip of the remote API this stands for
    return _country(country)[field]


@tool(read_only=True, timeout=10)
async def population(country: str) -> int:
    """The number of people living in a country.

    Args:
        country: The country's common English name, e.g. "France".
    """
    return int(await _lookup(country, "population"))


@tool(read_only=True, timeout=10)
async def area(country: str) -> float:
    """The land area of a country in square kilometres.

    Args:
        country: The country's common English name, e.g. "Brazil".
    """
    return float(await _lookup(country, "area"))


@tool(read_only=True, timeout=10)
async def capital(country: str) -> str:
    """The capital city of a country.

    Args:
        country: The country's common English name, e.g. "Japan".
    """
    return str(await _lookup(country, "capital"))


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def safe_eval(expression: str) -> float:
    """Evaluate arithmetic (numbers, + - * / // % **, parentheses) without `eval`."""

    def walk(node: ast.expr) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            if isinstance(node.value, bool):
                raise ValueError("not arithmetic: a boolean")
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 100:
                raise ValueError("exponent too large")
            return float(_BINARY[type(node.op)](left, right))
        raise ValueError(f"not arithmetic: {ast.unparse(node)}")

    text = _THOUSANDS.sub("", expression.strip())
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    return walk(tree.body)


@tool(read_only=True)
def calculator(expression: str) -> float:
    """Evaluate an arithmetic expression, e.g. "(3 + 4) * 2 / 7".

    Args:
        expression: Numbers with + - * / ** and parentheses.
    """
    return round(safe_eval(expression), 6)


_UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "ft": ("length", 0.3048),
    "km2": ("area", 1e6),
    "mi2": ("area", 1609.344**2),
    "m2": ("area", 1.0),
    "kg": ("mass", 1.0),
    "lb": ("mass", 0.45359237),
}


@tool(read_only=True)
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a value between units: m, km, mi, ft, m2, km2, mi2, kg, lb, C, F.

    Args:
        value: The amount to convert.
        from_unit: The unit of `value`.
        to_unit: The unit to convert to.
    """
    f, t = from_unit.strip().lower(), to_unit.strip().lower()
    if f in ("c", "f") and t in ("c", "f"):
        if f == t:
            return value
        return round(value * 9 / 5 + 32 if f == "c" else (value - 32) * 5 / 9, 6)
    if f not in _UNITS or t not in _UNITS or _UNITS[f][0] != _UNITS[t][0]:
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")
    return round(value * _UNITS[f][1] / _UNITS[t][1], 6)


@tool(read_only=True)
def largest(values: list[float], names: list[str]) -> str:
    """The name whose value is the largest, e.g. the country with the most people.

    Args:
        values: The numbers to compare.
        names: A name for each value, in the same order.
    """
    if len(values) != len(names) or not values:
        raise ValueError(f"{len(values)} values for {len(names)} names: give one name per value")
    return max(zip(values, names, strict=True), key=lambda pair: pair[0])[1]


TOOLS = ToolRegistry([population, area, capital, calculator, convert_units, largest])
"""The demo's tools."""

QUESTIONS = [
    "What is the combined population of France, Germany and Italy?",
    "What is the population density of Japan, in people per square kilometre?",
    "How much larger is Brazil than Australia, in square miles?",
]
"""Questions that need parallel lookups and dependent calculations."""

WORKED = (
    WorkedExample(
        "How much larger is Hungary than Switzerland, in square miles?",
        "Areas are in km2: look up both, subtract, then convert the km2 to mi2.",
        (
            ExampleCall("area", {"country": "Hungary"}, 93030, "I need the area of Hungary."),
            ExampleCall("area", {"country": "Switzerland"}, 41284, "Now Switzerland's area."),
            ExampleCall("calculator", {"expression": "$1 - $2"}, 51746, "Subtract the areas."),
            ExampleCall(
                "convert_units",
                {"value": "$3", "from_unit": "km2", "to_unit": "mi2"},
                19979.242296,
                "The areas are in km2: convert the difference to mi2.",
            ),
        ),
        "Hungary is 19,979 square miles larger than Switzerland.",
    ),
    WorkedExample(
        "How many more people live in Hungary than in Switzerland?",
        "Two independent lookups, then subtract: people need no unit conversion.",
        (
            ExampleCall("population", {"country": "Hungary"}, 9678000, "Hungary's population."),
            ExampleCall(
                "population", {"country": "Switzerland"}, 8183800, "Switzerland's population."
            ),
            ExampleCall("calculator", {"expression": "$1 - $2"}, 1494200, "Subtract them."),
        ),
        "1,494,200 more people live in Hungary than in Switzerland.",
    ),
    WorkedExample(
        "What is the average population of Cuba, Hungary and Switzerland?",
        "Three independent lookups; the mean is their sum divided by 3.",
        (
            ExampleCall("population", {"country": "Cuba"}, 11210064, "I need Cuba's population."),
            ExampleCall("population", {"country": "Hungary"}, 9678000, "Now Hungary's."),
            ExampleCall("population", {"country": "Switzerland"}, 8183800, "Now Switzerland's."),
            ExampleCall(
                "calculator",
                {"expression": "($1 + $2 + $3) / 3"},
                9690621.333333,
                "Divide the sum by 3, with parentheses.",
            ),
        ),
        "The average population of Cuba, Hungary and Switzerland is 9,690,621.",
    ),
    WorkedExample(
        "Which has the higher population density, Cuba or Hungary?",
        "Density is population divided by area: four lookups, two divisions, then compare.",
        (
            ExampleCall("population", {"country": "Cuba"}, 11210064, "I need Cuba's population."),
            ExampleCall("area", {"country": "Cuba"}, 109884, "And Cuba's area."),
            ExampleCall("population", {"country": "Hungary"}, 9678000, "Hungary's population."),
            ExampleCall("area", {"country": "Hungary"}, 93030, "And Hungary's area."),
            ExampleCall("calculator", {"expression": "$1 / $2"}, 102.017255, "Cuba's density."),
            ExampleCall("calculator", {"expression": "$3 / $4"}, 104.030958, "Hungary's density."),
            ExampleCall(
                "largest",
                {"values": ["$5", "$6"], "names": ["Cuba", "Hungary"]},
                "Hungary",
                "Which density is higher?",
            ),
        ),
        "Hungary has the higher population density, 104 people per square kilometre.",
    ),
    WorkedExample(
        "What is the capital of the most populous of New Zealand, Cuba and Switzerland?",
        "Compare the three populations, then look up the capital of the largest.",
        (
            ExampleCall(
                "population", {"country": "New Zealand"}, 4547900, "I need each population."
            ),
            ExampleCall("population", {"country": "Cuba"}, 11210064, "Now Cuba's."),
            ExampleCall("population", {"country": "Switzerland"}, 8183800, "Now Switzerland's."),
            ExampleCall(
                "largest",
                {"values": ["$1", "$2", "$3"], "names": ["New Zealand", "Cuba", "Switzerland"]},
                "Cuba",
                "Which population is the largest?",
            ),
            ExampleCall("capital", {"country": "$4"}, "Havana", "Now the capital of Cuba."),
        ),
        "Cuba is the most populous of the three, and its capital is Havana.",
    ),
)
"""Solved questions for the demo tools (on countries the demo's questions and the
`countries` evaluation suite never ask about), for every method's prompt."""

EXAMPLES = plan_examples(WORKED)
"""`WORKED` as plan examples, for `Agent(examples=...)`."""
