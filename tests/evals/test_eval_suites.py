from __future__ import annotations

import asyncio
import collections

import pytest

from toolweave import PlanTask, TaskState, execute
from toolweave.errors import UserError
from toolweave.evals.simulate import Simulation, simulate
from toolweave.evals.suites import suites


@pytest.mark.slow  # loads every suite whole
def test_every_suite_loads_with_the_source_counts() -> None:
    counts = {name: len(suite.cases()) for name, suite in suites().items()}
    assert counts == {
        "shortcutsbench": 1899,  # of 3,329: those whose actions each derive to one API
        "workflowllm": 50,
        "autotools": 80,
        "restbench": 157,
        "parallelqa": 113,
        "movie": 500,
        "hotpotqa": 1487,
        "countries": 165,  # generated: 15 per template
    }


def test_gold_plans_refer_to_registry_tools() -> None:
    for name in ("autotools", "restbench", "workflowllm"):
        suite = suites()[name]
        registry = suite.registry()
        cases = suite.cases()
        calls = [c.tool for case in cases for c in case.calls]
        known = sum(tool in registry for tool in calls)
        # ShortcutsBench's registry lacks 6 APIs that the WorkflowLLM code uses
        assert known / len(calls) > (0.99 if name != "workflowllm" else 0.97), name
        for case in cases:
            assert all(t in registry for t in case.tools or ())


def test_gold_structure() -> None:
    autotools = suites()["autotools"].cases()
    assert len({c.id for c in autotools}) == 80
    assert max(len(c.calls) for c in autotools) == 40  # the widest fan-out
    first = autotools[0]
    assert [c.tool for c in first.calls] == ["food_GET_search_recipes"] * 3 + [
        "food_GET_equipment_by_id"
    ]
    chain = suites()["restbench"].cases()[0]
    assert [sorted(c.deps) for c in chain.calls] == [[], [1]]
    assert {c.fanout for c in suites()["parallelqa"].cases()} == {2, 3, 4, 5}
    assert (
        collections.Counter(c.fanout for c in suites()["movie"].cases()).most_common(1)[0][0] == 8
    )
    assert {c.fanout for c in suites()["hotpotqa"].cases()} == {2}


def test_simulated_tools_are_deterministic_for_a_seed() -> None:
    registry = suites()["autotools"].registry()
    names = ["food_GET_search_recipes", "weather_GET_current_weather", "music_GET_search"]
    names = [n for n in names if n in registry] or registry.names[:3]

    async def run(seed: int) -> dict[int, object]:
        tools = simulate(registry, Simulation(seed=seed, latency=0.001, failure_rate=0.3))
        plan = [PlanTask(i, names[i % len(names)], {}) for i in range(12)]
        outcome = await execute(plan, tools)
        return {
            tid: (r.state, r.value if r.state is TaskState.SUCCEEDED else str(r.error))
            for tid, r in outcome.results.items()
        }

    first, again, other = asyncio.run(run(1)), asyncio.run(run(1)), asyncio.run(run(2))
    assert first == again
    assert first != other
    sim = Simulation(seed=7, latency=0.3)
    delays = [sim.delay(sim.rng("search", {"query": q})) for q in ("a", "b", "a")]
    assert delays[0] == delays[2] != delays[1]  # per call, not per order of calls


def test_sample_responses_come_from_the_specs() -> None:
    registry = suites()["autotools"].registry()
    with_sample = [t for t in registry if t.metadata.get("sample_response") is not None]
    assert with_sample
    tool = simulate(registry, Simulation(latency=0))[with_sample[0].name]
    value = asyncio.run(tool.fn())  # type: ignore[misc]
    assert value == with_sample[0].metadata["sample_response"]


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_failure_rate(rate: float) -> None:
    registry = suites()["parallelqa"].registry()
    tools = simulate(registry, Simulation(latency=0, failure_rate=rate))
    outcome = asyncio.run(execute([PlanTask(1, "search", {"query": "x"})], tools))
    assert (outcome.results[1].state is TaskState.FAILED) == (rate == 1.0)


def test_seeded_sample_keeps_order_and_is_repeatable() -> None:
    from toolweave.evals.suites import seeded_sample

    items = list(range(100))
    picked = seeded_sample(items, 10, seed=3)
    assert picked == sorted(picked)
    assert len(set(picked)) == 10
    assert seeded_sample(items, 10, seed=3) == picked
    assert seeded_sample(items, 10, seed=4) != picked
    assert seeded_sample(items, None) == items
    with pytest.raises(UserError, match="limit must be at least 1, not 0"):
        seeded_sample(items, 0)
