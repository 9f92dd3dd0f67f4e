"""The ``countries`` suite: questions over real country data whose answers can be checked.

ParallelQA-style questions (fan-out 2 to 6, then dependent arithmetic, unit
conversion, comparison or ranking) generated from templates with seeded countries,
answered with the demo's tools (`toolweave.demo`: population, area, capital, calculator,
convert_units) over the `countryinfo` dataset. Each case's gold answer is computed from
the same data, and `answer_ok` checks a reply against it, tolerant of formatting:
``5,824,168``, ``5824168.0`` and ``about 5.82 million`` are the same number;
``Brasília`` and ``Brasilia`` the same city.
"""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from toolweave import demo
from toolweave.evals.cases import EvalCase, Gold
from toolweave.evals.metrics import Call
from toolweave.tools import ToolRegistry

__all__ = ["COUNTRIES", "answer_ok", "countries_cases", "country_tools", "lookups_made"]

COUNTRIES = (
    "Argentina", "Australia", "Austria", "Belgium", "Brazil", "Canada", "Chile",
    "China", "Colombia", "Denmark", "Egypt", "Finland", "France", "Germany", "Greece",
    "India", "Indonesia", "Ireland", "Italy", "Japan", "Kenya", "Mexico", "Morocco",
    "Netherlands", "Nigeria", "Norway", "Peru", "Poland", "Portugal", "Spain", "Sweden",
    "Thailand", "Turkey", "Vietnam",
)  # fmt: skip
"""Countries whose names the tools take as written and whose data has every field."""

LOOKUPS = ("population", "area", "capital")
_FIELDS: dict[str, Callable[[Any], object]] = {"population": int, "area": float, "capital": str}
_KM2_PER_MI2 = 1609.344**2 / 1e6


def country_tools(latency: float = 0.0) -> ToolRegistry:
    """The demo's tools, with each country lookup taking `latency` seconds.

    The demo's own lookups wait `toolweave.demo.LATENCY`; an evaluation sets its own.
    """
    return ToolRegistry(
        replace(tool, fn=_lookup(tool.name, latency)) if tool.name in _FIELDS else tool
        for tool in demo.TOOLS
    )


def _lookup(field: str, latency: float) -> Callable[..., Any]:
    convert = _FIELDS[field]

    async def lookup(country: str) -> object:
        if latency:
            await asyncio.sleep(latency)
        return convert(demo._country(country)[field])

    return lookup


def _fact(country: str, field: str) -> Any:
    return _FIELDS[field](demo._country(country)[field])


# -- the checker --------------------------------------------------------------------

_TOLERANCE = 0.01
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUMBER = re.compile(
    r"(?<![\w.])(-?\d[\d,]*(?:\.\d+)?)\s*(thousand|million|billion|trillion)?", re.I
)


def numbers_in(text: str) -> list[tuple[float, int]]:
    """Every number in `text` with its decimals: ``5,824,168``, ``5.8 million``, ``3.0``.

    Returns pairs of (value, digits after the point as written, 0 for scaled values).
    """
    out = []
    for match in _NUMBER.finditer(text):
        digits, scale = match.group(1), match.group(2)
        if "," in digits and not re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", digits):
            digits = digits.split(",")[0]  # a list "3,4": the first number
        value = float(digits.replace(",", ""))
        decimals = len(digits.partition(".")[2])
        if scale:
            value *= _SCALES[scale.lower()]
            decimals = 0
        out.append((value, decimals))
    return out


def _close(answer: float, decimals: int, gold: float) -> bool:
    if gold == 0:
        return answer == 0
    if abs(answer - gold) <= _TOLERANCE * abs(gold):
        return True
    # a value rounded as written (2.35 for 2.3456), with at least two significant digits
    significant = len(f"{abs(answer):.{decimals}f}".replace(".", "").lstrip("0"))
    return significant >= 2 and abs(answer - gold) <= 0.5 * 10**-decimals + 1e-12


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " " + " ".join(re.sub(r"[^a-z0-9]+", " ", text).split()) + " "


def _position(text: str, entity: str) -> int:
    return _plain(text).find(_plain(entity))


def answer_ok(gold: Gold, answer: str | None) -> bool:
    """Whether `answer` states the gold answer (see `Gold` for how each kind is read)."""
    if not answer:
        return False
    value = gold.value
    if isinstance(value, float):
        return any(_close(v, d, value) for v, d in numbers_in(answer))
    if isinstance(value, tuple):
        return all(_position(answer, e) >= 0 for e in value)
    named = [(p, o) for o in gold.options or (value,) if (p := _position(answer, o)) >= 0]
    return bool(named) and min(named)[1] == value


def lookups_made(gold: Sequence[Call], made: Sequence[Call]) -> bool:
    """Whether every gold lookup (tool and country) is among the calls made."""
    done = {(c.tool, _plain(str(c.args.get("country", "")))) for c in made}
    return all((c.tool, _plain(str(c.args["country"]))) in done for c in gold)


# -- the templates ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    """A generated question: its text, gold answer and the lookups it needs."""

    text: str
    gold: Gold
    lookups: tuple[tuple[str, str], ...]


def _names(countries: Sequence[str]) -> str:
    return ", ".join(countries[:-1]) + f" and {countries[-1]}"


def _total_population(c: Sequence[str]) -> Question:
    total = float(sum(_fact(x, "population") for x in c))
    return Question(
        f"What is the combined population of {_names(c)}?",
        Gold("number", total),
        tuple(("population", x) for x in c),
    )


def _total_area_mi2(c: Sequence[str]) -> Question:
    total = sum(_fact(x, "area") for x in c) / _KM2_PER_MI2
    return Question(
        f"What is the total area of {_names(c)} in square miles?",
        Gold("number", total),
        tuple(("area", x) for x in c),
    )


def _average_population(c: Sequence[str]) -> Question:
    mean = sum(_fact(x, "population") for x in c) / len(c)
    return Question(
        f"What is the average population of {_names(c)}?",
        Gold("number", mean),
        tuple(("population", x) for x in c),
    )


def _density(c: Sequence[str]) -> Question:
    (x,) = c
    return Question(
        f"What is the population density of {x}, in people per square kilometre?",
        Gold("number", _fact(x, "population") / _fact(x, "area")),
        (("population", x), ("area", x)),
    )


def _population_gap(c: Sequence[str]) -> Question:
    big, small = sorted(c, key=lambda x: -_fact(x, "population"))
    return Question(
        f"How many more people live in {big} than in {small}?",
        Gold("number", float(_fact(big, "population") - _fact(small, "population"))),
        (("population", big), ("population", small)),
    )


def _area_gap_mi2(c: Sequence[str]) -> Question:
    big, small = sorted(c, key=lambda x: -_fact(x, "area"))
    return Question(
        f"How much larger is {big} than {small}, in square miles?",
        Gold("number", (_fact(big, "area") - _fact(small, "area")) / _KM2_PER_MI2),
        (("area", big), ("area", small)),
    )


def _ranked(field: str, word: str) -> Callable[[Sequence[str]], Question]:
    def make(c: Sequence[str]) -> Question:
        best = max(c, key=lambda x: _fact(x, field))
        return Question(
            f"Which of {_names(c)} has the {word}?",
            Gold("entity", best, tuple(c)),
            tuple((field, x) for x in c),
        )

    return make


def _denser(c: Sequence[str]) -> Question:
    best = max(c, key=lambda x: _fact(x, "population") / _fact(x, "area"))
    lookups = tuple((f, x) for x in c for f in ("population", "area"))
    return Question(
        f"Which has the higher population density, {c[0]} or {c[1]}?",
        Gold("entity", best, tuple(c)),
        lookups,
    )


def _capitals(c: Sequence[str]) -> Question:
    return Question(
        f"What are the capitals of {_names(c)}?",
        Gold("entities", tuple(_fact(x, "capital") for x in c)),
        tuple(("capital", x) for x in c),
    )


def _capital_of_largest(c: Sequence[str]) -> Question:
    best = max(c, key=lambda x: _fact(x, "population"))
    return Question(
        f"What is the capital of the most populous of {_names(c)}?",
        Gold("entity", _fact(best, "capital")),
        (*(("population", x) for x in c), ("capital", best)),
    )


_TEMPLATES: tuple[tuple[str, Callable[[Sequence[str]], Question], tuple[int, ...]], ...] = (
    ("sum", _total_population, (2, 3, 4, 5, 6)),
    ("area-mi2", _total_area_mi2, (2, 3, 4)),
    ("mean", _average_population, (3, 4, 5)),
    ("density", _density, (1,)),
    ("gap", _population_gap, (2,)),
    ("area-gap", _area_gap_mi2, (2,)),
    ("largest", _ranked("area", "largest area"), (3, 4, 5, 6)),
    ("populous", _ranked("population", "largest population"), (3, 4, 5)),
    ("denser", _denser, (2,)),
    ("capitals", _capitals, (2, 3, 4)),
    ("capital-of", _capital_of_largest, (2, 3)),
)
_PER_TEMPLATE = 15


def countries_cases(seed: int = 0) -> list[EvalCase]:
    """The suite's cases: 15 per template, countries drawn with `seed` (165 in all)."""
    rng = random.Random(seed)
    cases = []
    for name, make, sizes in _TEMPLATES:
        for number in range(_PER_TEMPLATE):
            question = make(rng.sample(COUNTRIES, sizes[number % len(sizes)]))
            calls = tuple(
                Call(i, tool, {"country": country})
                for i, (tool, country) in enumerate(question.lookups, 1)
            )
            cases.append(
                EvalCase(
                    "countries",
                    f"{name}-{number}",
                    question.text,
                    calls,
                    answer=str(question.gold),
                    answer_checkable=True,
                    gold_partial=True,  # the lookups; the arithmetic may take any form
                    gold=question.gold,
                    examples=demo.WORKED,
                )
            )
    return cases
