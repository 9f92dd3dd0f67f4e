"""The ShortcutsBench suite: derivation of gold actions, settings, asking, scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolweave import TaskState, execute
from toolweave.agent import ask_user_tool
from toolweave.evals.cases import EvalCase, Missing
from toolweave.evals.metrics import Call
from toolweave.evals.registries import data_dir
from toolweave.evals.report import report
from toolweave.evals.runner import run_eval, score
from toolweave.evals.simulate import Simulation, simulate
from toolweave.evals.strategies import oracle_tasks
from toolweave.evals.suites import suites
from toolweave.evals.trace import Trace

FAST = Simulation(latency=0.0)


@pytest.fixture(scope="module")
def cases() -> dict[str, EvalCase]:
    return {c.id: c for c in suites()["shortcutsbench"].cases()}


def test_counts_against_the_sources(cases: dict[str, EvalCase]) -> None:
    folder = data_dir() / "shortcutsbench"
    needed = json.loads(
        (folder / "all_shortcuts_paras_that_is_necessary_in_query.json").read_text()
    )
    texts = json.loads((folder / "generated_success_categories.json").read_text())
    assert len(needed) == 3342
    assert sum(url in texts for url in needed) == 3329
    # kept: every action derives to exactly one API (see toolweave.evals.shortcuts)
    assert len(cases) == 1899
    assert sum(c.missing is not None for c in cases.values()) == 214
    assert all(c.gold_partial and c.ask_tool and c.offer_gold for c in cases.values())
    registry = suites()["shortcutsbench"].registry()
    assert all(call.tool in registry for c in cases.values() for call in c.calls)


def test_hand_checked_case(cases: dict[str, EvalCase]) -> None:
    # {"1": {WFHeight: "1100", WFWidth: "350", WFBringToFront: true,
    #        WFConfiguration: "Dimensions"}, "2": {WFPosition: "Middle Right"}}
    case = cases["13b8da216acc45449524cb140eeed081"]
    assert [(c.id, c.tool) for c in case.calls] == [
        (1, "is_workflow_actions_resizewindow"),  # the only API with all four parameters
        (2, "is_workflow_actions_movewindow"),
    ]
    assert case.calls[0].args == {
        "WFHeight": "1100",
        "WFWidth": "350",
        "WFBringToFront": True,
        "WFConfiguration": "Dimensions",
    }
    assert case.missing == Missing(1, "WFHeight", "1100")  # the first free-text setting
    assert case.query.startswith("Opens the Threads app")
    assert case.query.endswith(
        "Settings: Height: not given; Width: 350; Bring to Front: yes; "
        "Configuration: Dimensions; Position: Middle Right."
    )


def test_ambiguous_actions_leave_the_shortcut_out(cases: dict[str, EvalCase]) -> None:
    # action 35 sets only WFEncodeMode=Decode, which Base64 and URL encoding both take
    assert "d25d75e1188940d49975e7953c09072e" not in cases


def test_enum_values_pick_the_api(cases: dict[str, EvalCase]) -> None:
    # WFContentItemPropertyName is a parameter of 22 "properties" APIs; "ZIP Code" is
    # in the enum of locations only
    case = cases["98f9218ef2af4472983f6704f64d912a"]
    assert [c.tool for c in case.calls] == ["is_workflow_actions_properties_locations"]


def test_partial_gold_scores_recall_arguments_and_asking() -> None:
    gold = (Call(1, "a", {"x": "5"}), Call(2, "b", {"y": True}))
    case = EvalCase(
        "shortcutsbench",
        "1",
        "q",
        gold,
        gold_partial=True,
        ask_tool=True,
        missing=Missing(1, "x", "5"),
    )
    trace = Trace(
        calls=[
            Call(1, "ask_user", {"question": "x?"}),
            Call(2, "a", {"x": 5.0}, frozenset({1})),
            Call(3, "c", {}),  # not in the partial gold: no penalty
        ]
    )
    row = score(case, trace)
    assert row["api_recall"] == 0.5
    assert row["arg_acc"] == 0.5  # b is missing, a's value equal as a number
    assert row["ask_ok"] == 1.0
    assert not {"api_f1", "api_precision", "exact"} & row.keys()
    # asking when nothing is missing is wrong, as is not asking when something is
    complete = EvalCase("shortcutsbench", "2", "q", gold, gold_partial=True, ask_tool=True)
    assert score(complete, trace)["ask_ok"] == 0.0
    assert score(case, Trace(calls=[Call(1, "a", {"x": "5"})]))["ask_ok"] == 0.0


async def test_gold_calls_are_valid_calls_of_their_tools(cases: dict[str, EvalCase]) -> None:
    # the oracle types the datasets' values ("350" for a number, 1 for a yes) and asks
    # for what is missing; every call must pass its tool's schema
    registry = simulate(suites()["shortcutsbench"].registry(), FAST)
    registry.add(ask_user_tool(lambda question: "42"))
    invalid = []
    for case in list(cases.values())[:300]:
        outcome = await execute(oracle_tasks(case, registry), registry)
        invalid += [r for r in outcome.results.values() if r.state is not TaskState.SUCCEEDED]
    assert invalid == []


@pytest.mark.slow  # an eval over the suite: indexing its registry takes seconds
async def test_oracles_through_the_runner(tmp_path: Path) -> None:
    strategies = ["oracle", "oracle-drop", "oracle-swap"]
    await run_eval("shortcutsbench", strategies, None, tmp_path, limit=12, seed=2, simulation=FAST)
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    oracle = [r for r in rows if r["strategy"] == "oracle"]
    assert len(oracle) == 12
    assert all(r["api_recall"] == 1.0 and r["arg_acc"] == 1.0 for r in oracle)
    assert all(r["ask_ok"] == 1.0 for r in oracle)  # asked exactly where a value was missing
    cases = {c.id: c for c in suites()["shortcutsbench"].cases()}
    asked = [r for r in oracle if cases[r["id"]].missing is not None]
    assert asked, "the sample should hold a case with a missing value"
    for row in rows:
        if row["strategy"] == "oracle-drop":
            n = len(cases[row["id"]].calls)
            assert row["api_recall"] == pytest.approx((n - 1) / n)
    data = report(tmp_path)
    assert data["shortcutsbench"]["oracle-swap"]["arg_acc"]["mean"] < 1.0
    assert "api_f1" not in data["shortcutsbench"]["oracle"]  # partial gold: recall only
