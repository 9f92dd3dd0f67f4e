"""Your own cases file, run and scored over a tool source (the test MCP server)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from support.mcp_fixtures import SERVER, mcp_http_url

from toolweave import ToolRegistry, UserError
from toolweave.evals.report import report
from toolweave.evals.runner import run_eval
from toolweave.evals.usercases import load_cases, user_suite
from toolweave.models.testing import ScriptedModel
from toolweave.sources import MCPSource

CASES = [
    {
        "id": "warmer",
        "request": "How much warmer is Rome than Paris?",
        "calls": [
            {"tool": "temperature", "args": {"city": "Rome"}},
            {"tool": "temperature", "args": {"city": "Paris"}},
            {"tool": "difference", "args": {"a": 27.0, "b": 21.5}, "deps": [1, 2]},
        ],
        "answer": "5.5",
        "fanout": 2,
        "fanout_tool": "temperature",
    },
    {
        "id": "oslo",
        "request": "What is the weather like in Oslo?",
        "calls": [{"tool": "weather", "args": {"city": "Oslo"}}],
        "answer": 9,
    },
]

RIGHT_PLAN = """1. temperature(city="Rome")
2. temperature(city="Paris")
3. difference(a=$1, b=$2)
join()
<END_OF_PLAN>"""
WRONG_TOOL = '1. temperature(city="Oslo")\njoin()\n<END_OF_PLAN>'


def write_cases(path: Path, cases: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(case) + "\n" for case in cases))
    return path


async def test_a_cases_file_over_an_mcp_server_is_scored(tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "mine.jsonl", CASES)
    model = ScriptedModel(
        [
            RIGHT_PLAN,
            "Action: Finish(Rome is 5.5 degrees warmer than Paris.)",
            WRONG_TOOL,  # the right number, from the wrong tool
            "Action: Finish(It is 9 degrees in Oslo.)",
        ]
    )
    out = tmp_path / "out"
    async with mcp_http_url() as url, ToolRegistry([MCPSource.http(url)]) as tools:
        suite = user_suite(cases, tools)
        await run_eval(suite, ["llmcompiler", "oracle"], model, out)
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        # an interrupted or repeated run resumes: nothing runs twice (the model has no
        # replies left, so a second run of any llmcompiler case would fail)
        await run_eval(suite, ["llmcompiler", "oracle"], model, out)
    assert len((out / "results.jsonl").read_text().splitlines()) == len(rows) == 4
    by_case = {(r["strategy"], r["id"]): r for r in rows}
    warmer, oslo = by_case["llmcompiler", "warmer"], by_case["llmcompiler", "oslo"]
    assert (warmer["api_f1"], warmer["arg_acc"], warmer["edge_f1"]) == (1.0, 1.0, 1.0)
    assert (warmer["fanout_ok"], warmer["answer_ok"]) == (1.0, 1.0)
    assert (oslo["api_f1"], oslo["arg_acc"], oslo["answer_ok"]) == (0.0, 0.0, 1.0)
    assert all(r["suite"] == "mine" and r["error"] is None for r in rows)
    data = report(out)
    assert data["mine"]["llmcompiler"]["api_f1"]["mean"] == 0.5
    assert data["mine"]["oracle"]["api_f1"]["mean"] == 1.0
    assert data["mine"]["oracle"]["answer_ok"]["mean"] == 1.0
    assert "## mine" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 3: not JSON"),
        ('{"calls": []}', "line 3: missing field 'request'"),
        ('{"request": "q", "gold": []}', "line 3: unknown field 'gold'"),
        ('{"request": "q", "calls": [{"args": {}}]}', "line 3: missing field 'calls.0.tool'"),
        ('{"request": "q", "fanout": 0}', "line 3: fanout: Input should be greater than"),
        ('{"request": "q", "calls": [{"tool": "t", "deps": [2]}]}', "deps [2] name no earlier"),
        ('{"id": "a", "request": "q"}', "line 3: id 'a' is already used on line 1"),
        ("[1, 2]", "line 3: Input should be a valid dictionary"),
    ],
)
def test_a_malformed_line_is_reported_with_its_number(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "request": "fine"}\n\n' + line + "\n")
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_cases(path)


def test_a_missing_cases_file_is_a_clear_error() -> None:
    registry = ToolRegistry()
    cases = Path(__file__).parent / "nowhere.jsonl"
    with pytest.raises(UserError, match="no cases file"):
        user_suite(cases, registry)


async def test_gold_calls_name_tools_the_source_has(tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "c.jsonl", [{"request": "q", "calls": [{"tool": "nope"}]}])
    async with mcp_http_url() as url, ToolRegistry([MCPSource.http(url)]) as tools:
        with pytest.raises(UserError, match="case 1: gold call 1 names tool 'nope'"):
            user_suite(cases, tools)


async def _cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toolweave",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode() + err.decode()


@pytest.mark.slow  # the CLI and a stdio server, as processes
async def test_cli_eval_of_a_cases_file_over_a_tools_source(tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "mine.jsonl", CASES)
    out = tmp_path / "out"
    source = f'mcp:stdio:"{sys.executable}" "{SERVER}"'
    code, text = await _cli(
        "eval", str(cases), "--tools", source, "--strategy", "oracle", "--out", str(out)
    )
    assert code == 0, text
    data = json.loads((out / "report.json").read_text())
    assert data["mine"]["oracle"]["cases"] == 2
    assert data["mine"]["oracle"]["api_f1"]["mean"] == 1.0
    assert data["mine"]["oracle"]["fanout_ok"]["mean"] == 1.0

    (tmp_path / "bad.jsonl").write_text('{"request": "fine"}\n{"request": 3}\n')
    code, text = await _cli("eval", str(tmp_path / "bad.jsonl"), "--tools", source)
    assert code == 2
    assert "line 2: request: Input should be a valid string" in " ".join(text.split())
