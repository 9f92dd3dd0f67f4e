"""Approvals that pause a run and survive a restart (`approve="pause"`, `Agent.resume`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from toolweave import Agent, RunResult, TaskState, Tool, ToolRegistry, UserError, tool
from toolweave.events import ApprovalRequested, Event
from toolweave.models.testing import ScriptedModel

HERE = Path(__file__).parent


def _log(line: str) -> None:
    """Every tool call is written to $CALL_LOG, so that runs in two processes add up."""
    with open(os.environ["CALL_LOG"], "a") as file:
        file.write(line + "\n")


@tool(read_only=True)
async def find(name: str) -> str:
    """The path of a file."""
    await asyncio.sleep(0.01 if name != "slow" else 0.1)
    _log(f"find {name}")
    return f"/data/{name}.txt"


@tool(destructive=True)
def delete(path: str) -> str:
    """Delete a file."""
    _log(f"delete {path}")
    return f"deleted {path}"


@tool(read_only=True)
def report(text: str) -> str:
    """Report a line."""
    _log(f"report {text}")
    return text.upper()


TOOLS = ToolRegistry([find, delete, report])
KEY = b"the tests' state key, 16 bytes+"

PLAN = """1. find(name="a")
2. find(name="b")
3. delete(path=$1)
4. delete(path=$2)
5. report(text="$3")
6. find(name="slow")
join()
<END_OF_PLAN>"""


@pytest.fixture(autouse=True)
def call_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "calls.log"
    monkeypatch.setenv("CALL_LOG", str(path))
    return path


def _calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def _paused() -> tuple[RunResult, list[Event]]:
    agent = Agent(ScriptedModel([PLAN]), TOOLS, approve="pause")
    events: list[Event] = []
    async with agent.stream("Delete a and b, then report") as stream:
        async for event in stream:
            events.append(event)
    return stream.result, events


async def test_pause_waits_for_everything_independent(call_log: Path) -> None:
    result, events = await _paused()
    assert result.status == "paused"
    assert result.answer is None
    assert [(p.id, p.tool, p.args) for p in result.pending] == [
        (3, "delete", {"path": "/data/a.txt"}),
        (4, "delete", {"path": "/data/b.txt"}),
    ]
    states = {tid: r.state for tid, r in result.tasks.items()}
    assert states == {
        1: TaskState.SUCCEEDED,
        2: TaskState.SUCCEEDED,
        3: TaskState.PENDING,
        4: TaskState.PENDING,
        5: TaskState.SKIPPED,  # put aside until task 3 is decided
        6: TaskState.SUCCEEDED,  # the slow independent lookup finished before the pause
    }
    assert sorted(_calls(call_log)) == ["find a", "find b", "find slow"]
    assert [e.task.id for e in events if isinstance(e, ApprovalRequested)] == [3, 4]
    assert [c.role for c in result.calls] == ["planner"]  # no joiner while paused


@pytest.mark.slow  # a new Python process
def test_resume_in_a_new_process(call_log: Path, tmp_path: Path) -> None:
    result = asyncio.run(_paused())[0]
    state = tmp_path / "paused.json"
    state.write_text(result.to_json(key=KEY))
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(HERE)!r})
from test_pause_resume import KEY, TOOLS
from toolweave import Agent, RunResult
from toolweave.models.testing import ScriptedModel

paused = RunResult.from_json(open({str(state)!r}).read(), key=KEY)
model = ScriptedModel(["Thought: a went, b was refused.\\nAction: Finish(deleted a only)"])
agent = Agent(model, TOOLS, approve="pause")
done = asyncio.run(agent.resume(paused, approvals={{3: True, 4: False}}))
print(done.to_json())
print(model.calls[0][-1]["content"], file=sys.stderr)
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    done = json.loads(run.stdout)
    assert done["status"] == "finished"
    assert done["answer"] == "deleted a only"
    tasks = {t["id"]: t for t in done["tasks"]}
    assert {tid: t["state"] for tid, t in tasks.items()} == {
        1: "succeeded",
        2: "succeeded",
        3: "succeeded",
        4: "failed",
        5: "succeeded",
        6: "succeeded",
    }
    assert tasks[4]["error_kind"] == "refused"
    assert tasks[5]["value"] == "DELETED /DATA/A.TXT"
    # across both processes, every call ran once; the refused one never ran
    assert sorted(_calls(call_log)) == [
        "delete /data/a.txt",
        "find a",
        "find b",
        "find slow",
        "report deleted /data/a.txt",
    ]
    # the joiner saw the refusal
    assert '$4 = delete(path="/data/b.txt") -> ERROR: refused' in run.stderr
    assert done["pending"] == []


async def test_a_callback_answering_none_pauses_and_a_missing_approval_pauses_again(
    call_log: Path,
) -> None:
    asked: list[str] = []

    def approve(t: Tool, args: Mapping[str, object]) -> bool | None:
        asked.append(str(args["path"]))
        return None  # a person has to decide: later

    model = ScriptedModel([PLAN, "Action: Finish(done)"])
    agent = Agent(model, TOOLS, approve=approve)
    paused = await agent.run("Delete a and b, then report")
    assert sorted(asked) == ["/data/a.txt", "/data/b.txt"]
    assert [p.id for p in paused.pending] == [3, 4]

    again = await agent.resume(paused, approvals={4: True})  # 3 still undecided
    assert again.status == "paused"
    assert [p.id for p in again.pending] == [3]
    assert paused.status == "resumed"  # taken up: it cannot be resumed again
    assert [p.id for p in paused.pending] == [3, 4]  # its record is kept

    done = await agent.resume(RunResult.from_json(again.to_json(key=KEY), key=KEY), {3: True})
    assert done.status == "finished"
    assert done.answer == "done"
    assert sorted(_calls(call_log)) == [
        "delete /data/a.txt",
        "delete /data/b.txt",
        "find a",
        "find b",
        "find slow",
        "report deleted /data/a.txt",
    ]


async def test_resume_rejects_unknown_ids_and_finished_runs() -> None:
    paused, _ = await _paused()
    agent = Agent(ScriptedModel([]), TOOLS, approve="pause")
    with pytest.raises(UserError, match="no pending call has id"):
        await agent.resume(paused, approvals={1: True})
    finished = RunResult.from_json(paused.to_json(key=KEY), key=KEY)
    finished.status = "finished"
    with pytest.raises(UserError, match="only a paused run"):
        await agent.resume(finished, approvals={})
    unsigned = RunResult.from_json(paused.to_json())
    with pytest.raises(UserError, match="read without a key"):
        await agent.resume(unsigned, approvals={3: True})


def test_from_json_refuses_what_is_not_a_run() -> None:
    with pytest.raises(UserError):
        RunResult.from_json("[1, 2]")
    with pytest.raises(UserError):
        RunResult.from_json('{"run_id": "x"}')


async def test_identical_parallel_calls_take_their_own_decisions(call_log: Path) -> None:
    plan = '1. delete(path="/x")\n2. delete(path="/x")\n3. report(text="$2")\njoin()\n'
    model = ScriptedModel([plan, "Action: Finish(one went)"])
    agent = Agent(model, TOOLS, approve="pause")
    paused = await agent.run("Delete /x twice")
    assert [(p.id, p.args) for p in paused.pending] == [(1, {"path": "/x"}), (2, {"path": "/x"})]
    done = await agent.resume(paused, approvals={1: False, 2: True})
    assert done.tasks[1].state is TaskState.FAILED
    assert done.tasks[1].error is not None
    assert done.tasks[1].error.kind == "refused"
    assert done.tasks[2].state is TaskState.SUCCEEDED
    assert done.tasks[3].value == "DELETED /X"
    assert sorted(_calls(call_log)) == ["delete /x", "report deleted /x"]
