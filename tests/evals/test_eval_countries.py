from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from toolweave.evals.cases import EvalCase, Gold
from toolweave.evals.countries import answer_ok, country_tools, numbers_in
from toolweave.evals.metrics import Call
from toolweave.evals.report import report
from toolweave.evals.runner import run_eval, score
from toolweave.evals.strategies import run_strategy
from toolweave.evals.suites import suites
from toolweave.models.testing import FunctionModel, ScriptedModel

pytest.importorskip("countryinfo")


def cases() -> list[EvalCase]:
    return suites()["countries"].cases()


def case(case_id: str) -> EvalCase:
    return next(c for c in cases() if c.id == case_id)


@pytest.mark.parametrize(
    "answer",
    [
        "Together they have 5,824,168 people.",
        "5824168",
        "5824168.0",
        "about 5.82 million",
        "roughly 5,800,000 people",  # within 1%
        "The total is **5.8 million**.",
    ],
)
def test_a_number_is_right_however_it_is_written(answer: str) -> None:
    assert answer_ok(Gold("number", 5_824_168.0), answer)


@pytest.mark.parametrize(
    "answer",
    [
        "58,241,680",  # the calculator's 5824168.0 read with its .0 as digits
        "about 6 million",  # one significant digit: 3% off
        "5.5 million",
        "I could not find the populations.",
        "",
        None,
    ],
)
def test_a_wrong_or_missing_number_is_wrong(answer: str | None) -> None:
    assert not answer_ok(Gold("number", 5_824_168.0), answer)


def test_small_numbers_count_when_rounded_as_written() -> None:
    gold = Gold("number", 2.3456)
    assert answer_ok(gold, "It is 2.35 times larger.")
    assert answer_ok(gold, "a ratio of 2.346")
    assert not answer_ok(gold, "about 2 times")
    assert not answer_ok(gold, "2.4")


def test_numbers_are_read_with_their_scales_and_separators() -> None:
    assert numbers_in("1,234,567 and 3.5 million, then 12") == [
        (1234567.0, 0),
        (3_500_000.0, 0),
        (12.0, 0),
    ]


def test_a_comparison_needs_the_gold_entity_named_first() -> None:
    gold = Gold("entity", "Brazil", ("Australia", "Brazil", "India"))
    assert answer_ok(gold, "Brazil has the largest area.")
    assert answer_ok(gold, "BRAZIL (8,515,767 km²)")
    assert answer_ok(gold, "Brazil is larger than Australia and India.")
    assert not answer_ok(gold, "Australia has the largest area.")
    assert not answer_ok(gold, "Australia is larger than Brazil.")
    assert not answer_ok(gold, "Canada")


def test_entities_ignore_accents_and_case_and_all_must_be_named() -> None:
    gold = Gold("entities", ("Brasília", "Bogotá"))
    assert answer_ok(gold, "The capitals are Brasilia and BOGOTA.")
    assert not answer_ok(gold, "The capital of Brazil is Brasília.")


def test_the_suite_has_enough_cases_with_fan_out_from_two_to_six() -> None:
    suite = cases()
    assert len(suite) >= 150
    assert len({c.id for c in suite}) == len(suite)
    fanouts = Counter(len(c.calls) for c in suite)
    assert min(fanouts) == 2
    assert max(fanouts) >= 6
    assert all(c.gold is not None and c.answer_checkable for c in suite)
    kinds = Counter(c.gold.kind for c in suite if c.gold)
    assert set(kinds) == {"number", "entity", "entities"}
    assert cases() == suite  # seeded: the same cases every time


async def test_gold_answers_come_from_the_tools_data() -> None:
    tools = country_tools()
    population = tools["population"].fn
    area = tools["area"].fn
    capital = tools["capital"].fn
    assert population is not None
    assert area is not None
    assert capital is not None
    total = case("sum-0")
    values = [await population(country=c.args["country"]) for c in total.calls]
    assert total.gold == Gold("number", float(sum(values)))
    largest = case("largest-0")
    areas = {c.args["country"]: await area(country=c.args["country"]) for c in largest.calls}
    assert largest.gold is not None
    assert largest.gold.value == max(areas, key=areas.__getitem__)
    capitals = case("capitals-0")
    expected = tuple([await capital(country=c.args["country"]) for c in capitals.calls])
    assert capitals.gold == Gold("entities", expected)


async def test_the_tools_are_real_and_wait_only_when_asked() -> None:
    fast, slow = country_tools(), country_tools(latency=0.2)
    assert (
        fast.names
        == slow.names
        == [
            "population",
            "area",
            "capital",
            "calculator",
            "convert_units",
            "largest",
        ]
    )
    start = time.perf_counter()
    assert await fast["capital"].fn(country="Japan") == "Tokyo"  # type: ignore[misc]
    assert time.perf_counter() - start < 0.1
    start = time.perf_counter()
    await slow["capital"].fn(country="Japan")  # type: ignore[misc]
    assert time.perf_counter() - start >= 0.2


async def test_a_right_plan_scores_its_answer_and_lookups() -> None:
    tools = country_tools()
    population = tools["population"].fn
    assert population is not None
    total = await population(country="Spain") + await population(country="Portugal")
    lookups = (
        Call(1, "population", {"country": "Spain"}),
        Call(2, "population", {"country": "Portugal"}),
    )
    question = EvalCase(
        "countries",
        "t",
        "What is the combined population of Spain and Portugal?",
        lookups,
        gold=Gold("number", float(total)),
        gold_partial=True,
    )
    plan = (
        '1. population(country="Spain")\n2. population(country="Portugal")\n'
        '3. calculator(expression="$1 + $2")\njoin()\n<END_OF_PLAN>'
    )
    model = ScriptedModel([plan, f"Action: Finish(They have {total:,} people.)"] * 2)
    row = score(question, await run_strategy("llmcompiler", question, model, tools))
    assert row["answer_ok"] == 1.0
    assert row["lookups_ok"] == 1.0
    assert (row["rejected_lines"], row["plans_cut"]) == (0, 0)
    looping = plan.replace("join()", "4. population(country='Spain')\n5. nowhere()\njoin()")
    model = ScriptedModel([looping, f"Action: Finish(They have {total:,} people.)"] * 2)
    row = score(question, await run_strategy("llmcompiler", question, model, tools))
    assert (row["rejected_lines"], row["plans_cut"]) == (0, 1)  # cut at 4: 5 never read
    rejected = plan.replace("join()", "4. nowhere()\njoin()")
    model = ScriptedModel([rejected, f"Action: Finish(They have {total:,} people.)"] * 2)
    row = score(question, await run_strategy("llmcompiler", question, model, tools))
    assert (row["rejected_lines"], row["plans_cut"]) == (1, 0)
    half = '1. population(country="Spain")\njoin()\n<END_OF_PLAN>'
    model = ScriptedModel([half, f"Action: Finish({total - 1_000_000:,})"] * 2)
    row = score(question, await run_strategy("llmcompiler", question, model, tools))
    assert row["answer_ok"] == 0.0
    assert row["lookups_ok"] == 0.0


async def test_the_runner_runs_countries_on_the_real_tools(tmp_path: Path) -> None:
    def respond(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        return "Thought: I know the answer\nFinal Answer: 12"

    await run_eval("countries", ["react"], FunctionModel(respond), tmp_path, limit=3)
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    assert all(r["answer_ok"] == 0.0 and r["lookups_ok"] == 0.0 for r in rows)
    assert all(r["timing"] == "measured" for r in rows)
    data = report(tmp_path)
    assert data["countries"]["react"]["answer_ok"]["mean"] == 0.0
    assert "median" in data["countries"]["react"]["latency"]
