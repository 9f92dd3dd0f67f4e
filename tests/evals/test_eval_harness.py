from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest

from toolweave.errors import UserError
from toolweave.evals.cases import EvalCase
from toolweave.evals.metrics import Call
from toolweave.evals.report import report
from toolweave.evals.runner import run_eval, score
from toolweave.evals.simulate import Simulation, simulate
from toolweave.evals.strategies import run_strategy
from toolweave.evals.suites import search_tools, suites
from toolweave.evals.trace import Trace
from toolweave.models.testing import FunctionModel, ScriptedModel

FAST = Simulation(latency=0.0)


def first_cases(name: str, n: int) -> list[EvalCase]:
    return suites()[name].cases()[:n]


@pytest.mark.parametrize("suite", ["autotools", "restbench", "workflowllm"])
async def test_oracle_scores_one_on_selection_and_structure(suite: str) -> None:
    registry = simulate(suites()[suite].registry(), FAST)
    for case in first_cases(suite, 4):
        trace = await run_strategy("oracle", case, None, registry)
        row = score(case, trace)
        assert row["api_f1"] == 1.0, case.id
        assert row["exact"] == 1.0
        assert row.get("edge_f1", 1.0) == 1.0
        assert row.get("arg_acc", 1.0) == 1.0
        assert trace.error is None


async def test_perturbed_oracles_score_lower_by_the_expected_amounts() -> None:
    registry = simulate(suites()["workflowllm"].registry(), FAST)
    case = next(c for c in first_cases("workflowllm", 10) if c.calls and c.calls[0].args)
    n = len(case.calls)
    dropped = score(case, await run_strategy("oracle-drop", case, None, registry))
    assert dropped["api_recall"] == pytest.approx((n - 1) / n)
    assert dropped["api_precision"] == 1.0
    assert dropped["exact"] == 0.0
    swapped = score(case, await run_strategy("oracle-swap", case, None, registry))
    assert swapped["api_f1"] == 1.0
    first_args = len(case.calls[0].args)
    with_args = sum(1 for c in case.calls if c.args)
    expected = (
        1 - (sum(isinstance(v, str) for v in case.calls[0].args.values()) / first_args) / with_args
    )
    assert swapped["arg_acc"] == pytest.approx(expected)
    false_dep = score(case, await run_strategy("oracle-falsedep", case, None, registry))
    gold_edges = sum(len(c.deps) for c in case.calls)
    assert false_dep["edge_f1"] == pytest.approx(2 * gold_edges / (2 * gold_edges + 1))
    assert false_dep["flow_acc"] == 1.0  # every gold input still flows; one edge too many
    assert dropped["flow_acc"] == pytest.approx(
        sum(len(c.deps) for c in case.calls[:-1]) / gold_edges
    )  # the dropped call's inputs are lost


def test_score_on_a_hand_made_trace() -> None:
    case = EvalCase(
        "x",
        "1",
        "q",
        (Call(1, "a", {"k": "v"}), Call(2, "b", {}, frozenset({1}))),
        ordered=True,
        answer="Paris",
        answer_checkable=True,
        fanout=None,
    )
    trace = Trace(
        calls=[Call(5, "a", {"k": "V"}), Call(6, "b", {}, frozenset({5})), Call(7, "c", {})],
        answer="It is paris.",
        wall=1.5,
    )
    row = score(case, trace)
    assert row["api_precision"] == pytest.approx(2 / 3)
    assert row["api_recall"] == 1.0
    assert row["exact"] == 0.0
    assert row["arg_acc"] == 1.0  # case-insensitive equality
    assert row["edge_f1"] == 1.0
    assert row["flow_acc"] == 1.0
    assert row["answer_ok"] == 1.0
    assert row["tool_calls"] == 3


async def test_react_runs_one_call_per_model_turn() -> None:
    case = EvalCase("parallelqa", "t", "Which is taller, A or B?", fanout=2)
    model = ScriptedModel(
        [
            'Thought: look up A\nAction: search(query="A")\n',
            'Thought: now B\nAction: search(query="B")\n',
            "Thought: I know the answer\nFinal Answer: A",
        ]
    )
    trace = await run_strategy("react", case, model, simulate(search_tools(), FAST))
    assert trace.answer == "A"
    assert trace.llm_calls == 3
    assert [(c.tool, c.args, sorted(c.deps)) for c in trace.calls] == [
        ("search", {"query": "A"}, []),
        ("search", {"query": "B"}, [1]),  # sequential: after the previous call
    ]
    assert model.calls[1][-1]["content"].startswith('Observation: {"value": ')
    assert score(case, trace)["fanout_ok"] == 0.0  # one independent search, not two


async def test_parallel_fc_runs_each_turns_calls_together() -> None:
    case = EvalCase("parallelqa", "t", "Which is taller, A or B?", fanout=2)

    def respond(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        if len(messages) == 2:
            calls = [{"tool": "search", "args": {"query": q}} for q in ("A", "B")]
            return json.dumps(calls)
        return '{"answer": "A"}'

    trace = await run_strategy(
        "parallel-fc", case, FunctionModel(respond), simulate(search_tools(), FAST)
    )
    assert trace.answer == "A"
    assert trace.llm_calls == 2
    assert [sorted(c.deps) for c in trace.calls] == [[], []]
    assert score(case, trace)["fanout_ok"] == 1.0


async def test_llmcompiler_strategy_on_a_scripted_model() -> None:
    case = EvalCase("parallelqa", "t", "Which is taller, A or B?", fanout=2)
    plan = (
        '1. search(query="A")\n2. search(query="B")\n3. math(problem="compare $1 and $2")\njoin()\n'
    )
    model = ScriptedModel([plan, "Action: Finish(A)"])
    trace = await run_strategy("llmcompiler", case, model, simulate(search_tools(), FAST))
    assert trace.answer == "A"
    assert trace.llm_calls == 2
    assert score(case, trace)["fanout_ok"] == 1.0


async def test_runner_resumes_and_reports(tmp_path: Path) -> None:
    await run_eval("restbench", ["oracle"], None, tmp_path, limit=3, simulation=FAST)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3
    await run_eval("restbench", ["oracle", "oracle-drop"], None, tmp_path, limit=3, simulation=FAST)
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6  # the three oracle rows were not run again
    assert len({(r["strategy"], r["id"]) for r in rows}) == 6
    data = report(tmp_path)
    assert data["restbench"]["oracle"]["api_f1"]["mean"] == 1.0
    assert data["restbench"]["oracle-drop"]["api_f1"]["mean"] < 1.0
    assert (tmp_path / "report.md").read_text().startswith("# Evaluation report")
    svg = ElementTree.fromstring((tmp_path / "latency.svg").read_text())
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "restbench/oracle" in texts
    assert "restbench/oracle-drop" in texts
    dots = list(svg.iter("{http://www.w3.org/2000/svg}circle"))
    assert len(dots) == 6  # every case's latency, not only a median
    ElementTree.fromstring((tmp_path / "accuracy.svg").read_text())
    # found by probing: concurrency 0 waited forever, a negative one or limit a traceback
    for bad in ({"concurrency": 0}, {"concurrency": -2}, {"limit": 0}, {"limit": -2}):
        with pytest.raises(UserError, match="must be at least 1"):
            await run_eval("restbench", ["oracle"], None, tmp_path / "bad", simulation=FAST, **bad)  # type: ignore[arg-type]
    assert not (tmp_path / "bad").exists()
    assert json.loads((tmp_path / "report.json").read_text()) == data


async def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    await run_eval("restbench", ["oracle"], None, tmp_path, limit=2, simulation=FAST)
    other_seed = Simulation(seed=1, latency=FAST.latency)
    with pytest.raises(UserError, match=r"seed: 0 there, 1 now"):
        await run_eval(
            "restbench", ["oracle"], None, tmp_path, limit=2, seed=1, simulation=other_seed
        )
    scripted = ScriptedModel([])
    with pytest.raises(UserError, match=r"model: None there, 'scripted' now"):
        await run_eval("restbench", ["oracle"], scripted, tmp_path, limit=2, simulation=FAST)
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2  # nothing mixed in


async def test_parallel_fc_native_function_calling_on_an_openai_endpoint() -> None:
    import tenacity
    from support.openai_server import OpenAIServer, Reply

    from toolweave.models import OpenAIModel, ToolCallingModel

    case = EvalCase("parallelqa", "t", "Which is taller, A or B?", fanout=2)
    replies = deque(
        [
            Reply(
                tool_calls=[
                    ("search", '{"query": "A"}'),
                    ("search", '{"query": "B"}'),
                    ("nope", "{}"),  # unknown: answered with an error, nothing runs
                ]
            ),
            Reply("A is taller."),
        ]
    )
    async with OpenAIServer(replies) as server:
        model = OpenAIModel("scripted", base_url=server.base_url, retry_wait=tenacity.wait_none())
        assert isinstance(model, ToolCallingModel)
        trace = await run_strategy("parallel-fc", case, model, simulate(search_tools(), FAST))
    assert trace.mode == "native"
    assert trace.answer == "A is taller."
    assert trace.llm_calls == 2
    assert trace.usage.total_tokens == 36  # two turns of (11, 7)
    assert [(c.tool, c.args, sorted(c.deps)) for c in trace.calls] == [
        ("search", {"query": "A"}, []),
        ("search", {"query": "B"}, []),  # the turn's calls run together
    ]
    first, second = server.requests
    assert not first.get("stream")
    assert [t["function"]["name"] for t in first["tools"]] == ["search", "math"]
    assert first["tool_choice"] == "auto"
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_0", "call_1", "call_2"]
    assert tool_messages[2]["content"] == "error: no tool named 'nope'"
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")
    assert len(assistant["tool_calls"]) == 3
    assert score(case, trace)["fanout_ok"] == 1.0


async def test_parallel_fc_reads_python_literals_in_the_json() -> None:
    case = EvalCase("parallelqa", "t", "Which is taller, A or B?", fanout=2)
    replies = iter(
        [
            '[{"tool": "search", "args": {"query": "True North"}},'
            ' {"tool": "math", "args": {"problem": "None", "extra": None}}]',
            '{"answer": "A"}',
        ]
    )
    model = FunctionModel(lambda messages, settings: next(replies))
    trace = await run_strategy("parallel-fc", case, model, simulate(search_tools(), FAST))
    assert [(c.tool, c.args) for c in trace.calls] == [
        ("search", {"query": "True North"}),
        ("math", {"problem": "None"}),  # a null argument is dropped as not given
    ]


async def test_parallel_fc_json_emulates_on_any_model() -> None:
    case = EvalCase("parallelqa", "t", "Which is taller, A or B?", fanout=2)
    model = FunctionModel(lambda messages, settings: '{"answer": "B"}')
    trace = await run_strategy("parallel-fc-json", case, model, simulate(search_tools(), FAST))
    assert (trace.mode, trace.answer, trace.calls) == ("json", "B", [])


async def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    class Interrupted(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Interrupted

    async def run(progress: Callable[[int, int], None]) -> None:
        await run_eval(
            "autotools", ["oracle"], None, tmp_path, limit=5, simulation=FAST, progress=progress
        )

    with pytest.raises(ExceptionGroup) as info:
        await run(stop_after_two)
    assert info.group_contains(Interrupted)
    path = tmp_path / "results.jsonl"
    first = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert len(first) == 2  # the cases that finished were kept
    with path.open("a") as f:
        f.write('{"suite": "autotools", "strat')  # a line cut short by a kill mid-write
    totals: list[int] = []
    await run(lambda done, total: totals.append(total))
    assert set(totals) == {3}  # only the three left were run
    lines = path.read_text().splitlines()
    assert lines[2] == '{"suite": "autotools", "strat'  # kept, and ended
    ids = [json.loads(line)["id"] for line in lines[:2] + lines[3:]]
    assert len(ids) == len(set(ids)) == 5
    assert ids[:2] == first
    assert report(tmp_path)["autotools"]["oracle"]["cases"] == 5
