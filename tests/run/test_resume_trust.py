"""A paused run's state tried as an attacker would: edited, replayed, raced.

Each edit below ran a destructive call nobody approved before approvals were bound to
their calls; each replay ran an approved one twice. (Issue 29, items 1 and 2.)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolweave import (
    Agent,
    ResumeLedger,
    RunResult,
    StateError,
    TaskState,
    ToolRegistry,
    UserError,
    tool,
)
from toolweave.models.testing import ScriptedModel

HERE = Path(__file__).parent
KEY = b"a key kept apart from the state"
ran: list[str] = []


@tool(read_only=True)
def find(name: str) -> str:
    """The path of a file."""
    return f"/data/{name}"


@tool(destructive=True)
def delete(path: str) -> str:
    """Delete a file."""
    _log(f"delete {path}")
    return f"deleted {path}"


@tool(destructive=True)
def wipe_disk(path: str) -> str:
    """Wipe a disk."""
    _log(f"wipe {path}")
    return "wiped"


def _log(line: str) -> None:
    ran.append(line)
    if log := os.environ.get("CALL_LOG"):  # runs in other processes add up
        with open(log, "a") as file:
            file.write(line + "\n")


TOOLS = ToolRegistry([find, delete, wipe_disk])
PLAN = '1. find(name="old.log")\n2. delete(path=$1)\njoin()\n<END_OF_PLAN>'
FINISH = "Action: Finish(done)"


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    ran.clear()


def _agent(*replies: str, ledger: ResumeLedger | None = None) -> Agent:
    return Agent(ScriptedModel(list(replies)), TOOLS, approve="pause", resume_ledger=ledger)


async def _paused() -> RunResult:
    paused = await _agent(PLAN).run("Delete the old log")
    assert paused.status == "paused"
    assert [(p.id, p.tool, p.args) for p in paused.pending] == [
        (2, "delete", {"path": "/data/old.log"})
    ]
    assert ran == []
    return paused


def _edited(paused: RunResult, edit: Callable[[dict[str, Any]], None]) -> RunResult:
    """The state as JSON, edited by an attacker, read back."""
    data = json.loads(paused.to_json())
    edit(data)
    return RunResult.from_json(json.dumps(data))


def _task(data: dict[str, Any], tid: int) -> dict[str, Any]:
    return next(t for t in data["tasks"] if t["id"] == tid)


def _planned_args(data: dict[str, Any]) -> None:
    _task(data, 2)["plan_args"] = {"path": "/etc/passwd"}


def _earlier_value(data: dict[str, Any]) -> None:
    _task(data, 1)["value"] = "/etc/passwd"


def _tool_name(data: dict[str, Any]) -> None:
    _task(data, 2)["tool"] = "wipe_disk"


def _pending_too(data: dict[str, Any]) -> None:  # the task and what the person saw
    _task(data, 2)["plan_args"] = {"path": "/etc/passwd"}
    data["pending"][0]["args"] = {"path": "/etc/passwd"}


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_planned_args, "does not match what was approved"),
        (_earlier_value, "does not match what was approved"),
        (_tool_name, "pending call 2 is delete, but its task calls wipe_disk"),
    ],
)
async def test_an_edited_state_runs_nothing_unapproved(
    edit: Callable[[dict[str, Any]], None], why: str
) -> None:
    tampered = _edited(await _paused(), edit)
    agent = _agent(FINISH)
    with pytest.raises(StateError, match="read without a key"):  # unsigned: refused outright
        await agent.resume(tampered, approvals={2: True})
    with pytest.raises(StateError, match=why):  # trusted anyway: the call is rebuilt, checked
        await agent.resume(tampered, approvals={2: True}, trust_unsigned=True)
    assert ran == []
    assert tampered.status == "paused"  # refused before it was claimed


async def test_a_task_slipped_in_behind_the_pending_one_is_refused() -> None:
    def behind(data: dict[str, Any]) -> None:  # a second task 2: it would replace the first
        data["tasks"].append({**_task(data, 2), "tool": "wipe_disk"})

    with pytest.raises(StateError, match="task 2 appears twice"):
        _edited(await _paused(), behind)
    assert ran == []


async def test_an_edit_of_what_was_shown_is_caught_by_the_mac() -> None:
    paused = await _paused()
    signed = paused.to_json(key=KEY)
    data = json.loads(signed)
    _pending_too(data)
    # without the key, the edit is consistent: it would delete what it says it deletes
    unsigned = RunResult.from_json(json.dumps(data))
    assert unsigned.source == "unsigned"
    with pytest.raises(StateError, match="read without a key"):
        await _agent(FINISH).resume(unsigned, {2: True})
    with pytest.raises(StateError, match="MAC does not match"):
        RunResult.from_json(json.dumps(data), key=KEY)
    with pytest.raises(StateError, match="another key"):
        RunResult.from_json(signed, key=b"not the key the state was signed with")
    with pytest.raises(StateError, match="carries no MAC"):
        RunResult.from_json(paused.to_json(), key=KEY)
    with pytest.raises(UserError, match="at least 16 bytes"):
        paused.to_json(key="short")
    done = await _agent(FINISH).resume(RunResult.from_json(signed, key=KEY), {2: True})
    assert done.status == "finished"
    assert ran == ["delete /data/old.log"]


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda d: d.update(status="weird"), "unknown status 'weird'"),
        (lambda d: d["pending"].append({"id": 9, "tool": "delete", "args": {}}), "pending"),
        (lambda d: d["plans"][0]["task_ids"].append(7), "plan 0 names no task"),
    ],
)
async def test_a_malformed_state_is_refused_when_read(
    edit: Callable[[dict[str, Any]], None], why: str
) -> None:
    with pytest.raises(StateError, match=why):
        _edited(await _paused(), edit)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda d: d["plans"][0]["task_ids"].remove(1), "task 1 belongs to no plan"),
        (lambda d: d.update(plans=[]), "has none"),
        (lambda d: _task(d, 1).update(state="pending"), "task 1 is pending"),
        (lambda d: _task(d, 2).update(state="succeeded"), "task 2 is succeeded"),
        (lambda d: _task(d, 1).update(deps=[2]), "task 1 depends on a later task"),
        (lambda d: d.update(pause_id=None), "pause id"),
    ],
)
async def test_a_malformed_state_is_refused_before_anything_runs(
    edit: Callable[[dict[str, Any]], None], why: str
) -> None:
    tampered = _edited(await _paused(), edit)
    with pytest.raises(StateError, match=why):
        await _agent(FINISH).resume(tampered, approvals={2: True}, trust_unsigned=True)
    assert ran == []


async def test_decisions_are_true_or_false() -> None:
    paused = await _paused()
    with pytest.raises(UserError, match="must be True or False"):
        await _agent(FINISH).resume(paused, approvals={2: "yes"})  # type: ignore[dict-item]
    assert paused.source == "run"
    assert ran == []


async def test_a_pause_resumes_once() -> None:
    paused = await _paused()
    copy = RunResult.from_json(paused.to_json(key=KEY), key=KEY)  # the same pause, elsewhere
    done = await _agent(FINISH).resume(paused, approvals={2: True})
    assert done.status == "finished"
    assert paused.status == "resumed"
    with pytest.raises(StateError, match="resumed already"):
        await _agent(FINISH).resume(paused, approvals={2: True})
    with pytest.raises(StateError, match="resumed already"):
        await _agent(FINISH).resume(copy, approvals={2: True})
    assert copy.status == "resumed"
    assert ran == ["delete /data/old.log"]


async def test_two_racing_resumes_run_the_call_once() -> None:
    paused = await _paused()
    copies = [RunResult.from_json(paused.to_json(key=KEY), key=KEY) for _ in range(4)]
    outcomes = await asyncio.gather(
        *(_agent(FINISH).resume(c, approvals={2: True}) for c in [paused, *copies]),
        return_exceptions=True,
    )
    assert sum(isinstance(o, RunResult) and o.status == "finished" for o in outcomes) == 1
    assert sum(isinstance(o, StateError) for o in outcomes) == 4
    assert ran == ["delete /data/old.log"]


def test_resumes_racing_in_threads_run_the_call_once() -> None:
    paused = asyncio.run(_paused())
    text = paused.to_json(key=KEY)
    start = threading.Barrier(4)
    outcomes: list[object] = []

    def worker() -> None:
        agent = _agent(FINISH)
        state = RunResult.from_json(text, key=KEY)
        start.wait()
        try:
            outcomes.append(asyncio.run(agent.resume(state, approvals={2: True})).status)
        except StateError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, outcomes)).count("finished") == 1
    assert sum(isinstance(o, StateError) for o in outcomes) == 3
    assert ran == ["delete /data/old.log"]


@pytest.mark.slow  # resumes in processes
def test_resumes_racing_in_processes_run_the_call_once(tmp_path: Path) -> None:
    paused = asyncio.run(_paused())
    state = tmp_path / "paused.json"
    state.write_text(paused.to_json(key=KEY))
    log = tmp_path / "calls.log"
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(HERE)!r})
from test_resume_trust import FINISH, KEY, _agent
from toolweave import RunResult, StateError
paused = RunResult.from_json(open({str(state)!r}).read(), key=KEY)
try:
    print(asyncio.run(_agent(FINISH).resume(paused, approvals={{2: True}})).status)
except StateError as exc:
    print("refused:", exc)
"""
    env = {**os.environ, "CALL_LOG": str(log)}
    workers = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=60)[0].strip() for w in workers]
    assert sorted(o.split(":")[0] for o in outputs) == ["finished", "refused", "refused"]
    assert log.read_text().splitlines() == ["delete /data/old.log"]


async def test_a_refused_call_and_a_pause_again_keep_their_bindings() -> None:
    plan = '1. delete(path="/a")\n2. delete(path="/b")\njoin()\n'
    agent = _agent(plan, FINISH, FINISH)
    paused = await agent.run("Delete a and b")
    again = await agent.resume(paused, approvals={1: False})  # 2 undecided: pauses again
    assert again.status == "paused"
    assert again.pause_id not in (None, paused.pause_id)
    assert again.tasks[1].state is TaskState.FAILED
    done = await agent.resume(again, approvals={2: True})
    assert done.status == "finished"
    assert ran == ["delete /b"]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"run_id": "x", "request": "q", "status": "paused", "tasks": [{"id": 1, '
        '"tool": "t", "state": "pending", "plan_args": {"a": '
        + '{"b": ' * 5_000
        + "1"
        + "}" * 5_000
        + "}}]}",
        '{"run_id": "x", "request": "q", "status": "paused", "tasks": "not a list"}',
        '{"run_id": "x", "request": "q", "status": "paused", "pending": [7]}',
    ],
)
def test_hostile_state_text_is_a_clear_error(text: str) -> None:
    with pytest.raises(UserError, match=r"not a run's state|not JSON"):
        RunResult.from_json(text)


async def test_the_default_ledger_is_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLWEAVE_STATE", str(tmp_path / "state"))
    ledger = ResumeLedger()
    assert ledger.claim("p", "r")
    assert not ResumeLedger().claim("p", "r")  # another process's view: the same file
    path = tmp_path / "state" / "resumes.sqlite"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


async def test_approve_reaches_an_executor_given_to_the_agent() -> None:
    from toolweave import LocalExecutor

    agent = Agent(ScriptedModel([PLAN, FINISH]), TOOLS, executor=LocalExecutor(), approve="pause")
    paused = await agent.run("Delete the old log")  # it used to refuse: approve was dropped
    assert paused.status == "paused"
    done = await agent.resume(paused, approvals={2: True})
    assert done.status == "finished"
    assert ran == ["delete /data/old.log"]


async def test_a_shared_executor_asks_each_agent_its_own_approver() -> None:
    """Found by review: an approver set on a shared executor approved another agent's calls."""
    from toolweave import LocalExecutor

    shared = LocalExecutor()
    plan = '1. delete(path="/prod")\njoin()\n'
    trusting = Agent(
        ScriptedModel([plan, FINISH]), TOOLS, executor=shared, approve=lambda t, a: True
    )
    careful = Agent(ScriptedModel([plan, FINISH]), TOOLS, executor=shared)  # no approver
    both = await asyncio.gather(trusting.run("Delete /prod"), careful.run("Delete /prod"))
    assert both[0].tasks[1].state is TaskState.SUCCEEDED
    assert both[1].tasks[1].state is TaskState.FAILED
    assert both[1].tasks[1].error is not None
    assert both[1].tasks[1].error.kind == "refused"
    assert ran == ["delete /prod"]
    own = Agent(
        ScriptedModel([plan, FINISH]), TOOLS, executor=LocalExecutor(approve=lambda t, a: False)
    )
    refused = await own.run("Delete /prod")  # an executor's own approver still decides alone
    assert refused.tasks[1].state is TaskState.FAILED
    assert ran == ["delete /prod"]


async def test_a_signed_pause_cannot_be_re_armed_under_another_id() -> None:
    """Found by review: the ledger keys a pause by its id, which an unsigned state can change."""
    paused = await _paused()
    signed = json.loads(paused.to_json(key=KEY))
    done = await _agent(FINISH).resume(RunResult.from_json(json.dumps(signed), key=KEY), {2: True})
    assert done.status == "finished"
    signed["pause_id"] = "0" * 32  # the same approval, a fresh pause id
    with pytest.raises(StateError, match="MAC does not match"):
        RunResult.from_json(json.dumps(signed), key=KEY)
    assert ran == ["delete /data/old.log"]
