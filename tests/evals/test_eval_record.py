from __future__ import annotations

import asyncio
import gzip
import json
import sys
import time
from collections import deque
from pathlib import Path

import pytest
from support.openai_server import OpenAIServer, Reply

from toolweave import Agent
from toolweave.errors import ModelError
from toolweave.models import (
    ModelSettings,
    ReplayModel,
    ToolCallingModel,
    read_record,
    recording,
)
from toolweave.models.testing import ScriptedModel
from toolweave.tools import ToolRegistry, tool

PLAN = (
    '1. population(country="France")\n2. population(country="Germany")\n'
    "3. add(a=$1, b=$2)\njoin()\n<END_OF_PLAN>"
)
POPULATION = {"France": 66_000_000, "Germany": 83_000_000}


def tools() -> ToolRegistry:
    @tool(read_only=True)
    async def population(country: str) -> int:
        """A country's population."""
        return POPULATION[country]

    @tool(read_only=True)
    def add(a: float, b: float) -> float:
        """a + b."""
        return a + b

    return ToolRegistry([population, add])


def summary(result: object) -> tuple[object, ...]:
    tasks = result.tasks.values()  # type: ignore[attr-defined]
    return (
        result.answer,  # type: ignore[attr-defined]
        [(r.task.id, r.task.tool, r.args, r.value, r.state) for r in tasks],
        result.usage,  # type: ignore[attr-defined]
    )


async def test_a_replay_reproduces_a_recorded_run_exactly(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    model = ScriptedModel([PLAN, "Action: Finish(149,000,000 people)"] * 3, chunk_size=3)
    recorder = recording(model, path)
    recorded = await Agent(recorder, tools()).run("France and Germany together?")
    assert recorded.answer == "149,000,000 people"
    calls = read_record(path)
    assert calls == recorder.calls
    packed = tmp_path / "calls.jsonl.gz"  # as committed
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert read_record(packed) == calls
    assert len(calls) == len(model.calls) >= 2
    assert calls[0].messages == model.calls[0]
    assert calls[0].text.startswith('1. population(country="France")')
    assert calls[0].usage["completion_tokens"] > 0
    assert 0 <= calls[0].ttft <= calls[0].seconds

    replay = ReplayModel.load(path, ttft=0.0, tokens_per_second=None)
    replayed = await Agent(replay, tools()).run("France and Germany together?")
    assert summary(replayed) == summary(recorded)


async def test_a_replay_is_paced_at_the_given_speed(tmp_path: Path) -> None:
    recorder = recording(ScriptedModel(["x" * 400]))  # 100 tokens at 4 characters each
    settings = ModelSettings(max_tokens=200)
    async with recorder.stream([{"role": "user", "content": "hi"}], settings) as reply:
        text = "".join([chunk async for chunk in reply])
    assert recorder.calls[0].usage["completion_tokens"] == 100
    replay = ReplayModel(recorder.calls, ttft=0.2, tokens_per_second=500)
    start = time.perf_counter()
    first = None
    async with replay.stream([{"role": "user", "content": "hi"}], settings) as again:
        async for _ in again:
            first = first or time.perf_counter() - start
    took = time.perf_counter() - start
    assert again.text == text
    assert again.usage == reply.usage
    assert first is not None
    assert first >= 0.2
    assert took >= 0.2 + 100 / 500
    assert took < 1.5


async def test_a_replay_refuses_a_call_it_has_not_recorded() -> None:
    recorder = recording(ScriptedModel(["a", "b"]))
    for _ in range(2):
        async with recorder.stream([{"role": "user", "content": "q"}], ModelSettings()) as r:
            [c async for c in r]
    replay = ReplayModel(recorder.calls)
    for expected in ("a", "b"):  # the same request asked twice: each recording in turn
        async with replay.stream([{"role": "user", "content": "q"}], ModelSettings()) as r:
            assert "".join([c async for c in r]) == expected
    with pytest.raises(ModelError, match="no \\(further\\) call"):
        async with replay.stream([{"role": "user", "content": "q"}], ModelSettings()):
            pass
    with pytest.raises(ModelError):
        async with replay.stream([{"role": "user", "content": "other"}], ModelSettings()):
            pass


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
async def test_cli_eval_records_and_replays_the_same_decisions(tmp_path: Path) -> None:
    pytest.importorskip("countryinfo")
    plan = '1. population(country="France")\n2. capital(country="France")\njoin()\n<END_OF_PLAN>'
    replies = deque([Reply(plan), Reply("Action: Finish(Paris)")] * 4)
    record, measured, replayed = tmp_path / "record", tmp_path / "cpu", tmp_path / "api"
    common = ["eval", "countries", "--limit", "2", "--strategy", "llmcompiler"]
    async with OpenAIServer(replies) as server:
        model = f"openai:scripted@{server.base_url}"
        code, out = await _cli(
            *common, "--model", model, "--record", str(record), "--out", str(measured)
        )
        assert code == 0, out
    assert (record / "calls.jsonl").is_file()
    # a committed record is gzipped: the replay reads calls.jsonl.gz where no calls.jsonl is
    plain = record / "calls.jsonl"
    (record / "calls.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    code, out = await _cli(
        *common, "--replay", str(record), "--pace", "0.05,1000", "--out", str(replayed)
    )
    assert code == 0, out

    def rows(out: Path) -> list[dict[str, object]]:
        return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]

    keys = ("id", "answer", "tool_calls", "llm_calls", "prompt_tokens", "completion_tokens")
    assert [[r[k] for k in keys] for r in rows(replayed)] == [
        [r[k] for k in keys] for r in rows(measured)
    ]
    assert {r["timing"] for r in rows(replayed)} == {"replayed at 0.05 s TTFT, 1000 tokens/s"}
    assert "Latencies: replayed at 0.05 s TTFT" in (replayed / "report.md").read_text()
    assert "replayed" not in (measured / "report.md").read_text()


def test_recording_keeps_native_function_calling_only_where_the_model_has_it() -> None:
    assert not isinstance(recording(ScriptedModel()), ToolCallingModel)
    from toolweave.models import OpenAIModel

    assert isinstance(
        recording(OpenAIModel("m", base_url="http://127.0.0.1:9/v1")), ToolCallingModel
    )


async def test_a_model_error_is_the_cases_error_not_the_runs(tmp_path: Path) -> None:
    """A replay that diverges from its record fails its case; the run goes on."""
    from toolweave.evals.runner import run_eval

    strategies = ["react", "parallel-fc", "llmcompiler"]
    path = await run_eval("countries", strategies, ReplayModel([]), tmp_path, limit=2)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert "no (further) call" in row["error"], row
        assert row["answer"] is None
