from __future__ import annotations

import json

import pytest

from toolweave.evals.metrics import (
    Call,
    api_scores,
    argument_accuracy,
    dag_edge_scores,
    mean_ci,
    values_equal,
)
from toolweave.evals.registries import data_dir
from toolweave.evals.workflow import parse_workflow


def test_api_scores_count_repeats() -> None:
    gold = ["search", "search", "search", "equipment"]
    assert api_scores(gold, gold).f1 == 1.0
    dropped = api_scores(["search", "search", "equipment"], gold)
    assert dropped.precision == 1.0
    assert dropped.recall == 0.75
    wrong = api_scores(["search", "weather"], gold)
    assert wrong.precision == 0.5
    assert wrong.recall == 0.25
    assert wrong.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert api_scores([], []).f1 == 1.0
    assert api_scores([], ["x"]).f1 == 0.0


def test_dag_edge_scores_match_calls_by_tool_then_compare_edges() -> None:
    gold = [Call(1, "a", {}), Call(2, "b", {}), Call(3, "c", {}, frozenset({1, 2}))]
    renumbered = [Call(7, "b", {}), Call(8, "a", {}), Call(9, "c", {}, frozenset({7, 8}))]
    assert dag_edge_scores(renumbered, gold).f1 == 1.0
    false_dep = [
        Call(1, "a", {}),
        Call(2, "b", {}, frozenset({1})),
        Call(3, "c", {}, frozenset({1, 2})),
    ]
    scores = dag_edge_scores(false_dep, gold)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == 1.0
    missing = [Call(1, "a", {}), Call(3, "c", {}, frozenset({1}))]
    assert dag_edge_scores(missing, gold).recall == 0.5


@pytest.mark.parametrize(
    ("predicted", "gold", "equal"),
    [
        ("Hello  World", "hello world", True),
        ("5", 5.0, True),
        ("1,000", 1000, True),
        ("yes", True, True),
        (0, False, True),
        ("maybe", True, False),
        ("ZIP Code", "Zip code", True),
        ("Name", "File Size", False),
    ],
)
def test_values_equal(predicted: object, gold: object, equal: bool) -> None:
    assert values_equal(predicted, gold) is equal


def test_argument_accuracy_and_confidence_intervals() -> None:
    assert argument_accuracy({"a": "X", "b": 2}, {"a": "x", "b": "3"}) == 0.5
    assert argument_accuracy({}, {}) == 1.0
    m = mean_ci([1.0, 0.0, 1.0, 1.0])
    assert m.value == 0.75
    assert m.low < 0.75 < m.high
    assert m.n == 4


def test_workflow_dag_from_hand_checked_code() -> None:
    code = """
# a comment with is_workflow_actions_alert( in it
file = is_workflow_actions_documentpicker_open( WFGetFilePath='''a.txt''')
data = is_workflow_actions_detect_dictionary( WFInput=file)
total = data["Sum"]
n = is_workflow_actions_number( WFNumberActionNumber=f'''{total}''')
is_workflow_actions_alert( WFAlertActionMessage=f'''Sum is {n}''')
url = is_workflow_actions_url( WFURLActionURL='''https://example.com''')
page = is_workflow_actions_downloadurl( WFURL=is_workflow_actions_url( WFURLActionURL=url))
is_workflow_actions_alert( WFAlertActionMessage='''done''')
"""
    apis = [
        "is.workflow.actions.documentpicker.open",
        "is.workflow.actions.detect.dictionary",
        "is.workflow.actions.number",
        "is.workflow.actions.alert",
        "is.workflow.actions.url",
        "is.workflow.actions.downloadurl",
    ]
    plan = parse_workflow(code, apis)
    short = [(c.id, c.tool.rsplit(".", 1)[-1], sorted(c.deps)) for c in plan.calls]
    assert short == [
        (1, "open", []),
        (2, "dictionary", [1]),
        (3, "number", [2]),  # through the variable `total`, inside an f-string
        (4, "alert", [1, 3]),  # the number, and the previous side effect (open)
        (5, "url", []),
        (6, "url", [5]),  # the inner call runs first...
        # ...and feeds the outer one; the line's variables go to both (one line in the
        # 50 workflows nests calls, so the extra transitive edge is accepted)
        (7, "downloadurl", [5, 6]),
        (8, "alert", [4]),  # alerts keep their order
    ]


def test_workflow_dags_of_the_whole_set_are_acyclic_and_cover_the_apis() -> None:
    samples = json.loads((data_dir() / "workflowllm/data_samples.json").read_text())
    assert len(samples) == 50
    covered = listed = 0
    for sample in samples:
        plan = parse_workflow(sample["annotated_code"], sample["apis"])
        assert all(dep < call.id for call in plan.calls for dep in call.deps)
        assert plan.calls, sample["query"]
        listed += len(set(sample["apis"]))
        covered += len(set(sample["apis"]) & set(plan.apis))
    # the rest are setvariable/comment/nothing, which the code writes as plain Python
    assert covered / listed > 0.85
