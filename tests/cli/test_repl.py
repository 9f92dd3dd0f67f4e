from __future__ import annotations

import json
import os
import re
import sys
from collections import deque
from pathlib import Path
from xml.etree import ElementTree

import pexpect
import pytest
from rich.console import Console
from support.openai_server import Reply, ThreadedServer
from support.repl_tools import TOOLS

from toolweave import Agent, PlanError, ToolError
from toolweave.cli._render import RunView
from toolweave.cli._runlog import RunLog
from toolweave.events import (
    PlanFinished,
    PlanRejectedLine,
    Replanned,
    TaskFailed,
    TaskPlanned,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from toolweave.models import Usage
from toolweave.models.testing import ScriptedModel
from toolweave.plan import parse_plan

TESTS = Path(__file__).parents[1]


def test_run_view_renders_states_and_replans() -> None:
    plan = '1. lookup(key="a")\n2. lookup(key="$1")\n3. slow(seconds=1)\n'
    tasks = [t for t in parse_plan(plan, TOOLS) if not isinstance(t, PlanError)]
    view = RunView()
    for task in tasks:
        view.handle(TaskPlanned(task=task))
    view.handle(TaskStarted(task=tasks[0], args={"key": "a"}))
    view.handle(TaskFailed(task=tasks[0], error=ToolError("lookup", "boom"), duration=0.25))
    view.handle(TaskSkipped(task=tasks[1], reason="task 1 (lookup) failed: boom"))
    view.handle(TaskStarted(task=tasks[2], args={"seconds": 1}))
    view.handle(Replanned(index=1, reason="try another key"))
    (again,) = parse_plan('4. lookup(key="b")\n', TOOLS)
    assert not isinstance(again, PlanError)
    view.handle(TaskPlanned(task=again))
    view.handle(TaskStarted(task=again, args={"key": "b"}))
    view.handle(TaskSucceeded(task=again, value="value-of-b", duration=0.01))
    view.handle(PlanRejectedLine(error=PlanError("unknown tool 'x'", line="5. x()", task_id=5)))
    view.handle(
        PlanFinished(
            index=1,
            text=plan,
            task_ids=(4,),
            rejected=1,
            usage=Usage(),
            duration=0.1,
            cut="it repeats task 4, whose result the plan already has: the plan ends here",
        )
    )
    console = Console(record=True, width=120)
    console.print(view)
    text = console.export_text()
    lines = text.splitlines()
    assert lines[1].strip() == "plan 1"
    row = {line.split()[0]: line for line in lines if line.split() and line.split()[0].isdigit()}
    assert row["1"].split()[-3:] == ["failed", "0.25s", "boom"]
    assert row["2"].split()[2:4] == ["$1", "skipped"]
    assert "running" in row["3"]
    assert row["4"].split()[-3:-1] == ["done", "0.01s"]
    assert row["4"].rstrip().endswith("value-of-b")
    assert "plan 2 (replan: try another key)" in text
    assert "rejected: 5. x()  (unknown tool 'x')" in text
    assert "plan cut: it repeats task 4, whose result the plan already has" in text


async def test_run_log_round_trip(tmp_path: Path) -> None:
    model = ScriptedModel(['1. lookup(key="a")\njoin()\n', "Action: Finish(found value-of-a)"])
    result = await Agent(model, TOOLS).run("look up a")
    log = RunLog(tmp_path / "runs.sqlite")
    log.add(result, "scripted")
    (row,) = log.recent()
    assert row.run_id == result.run_id
    assert row.request == "look up a"
    assert row.answer == "found value-of-a"
    assert row.tasks == 1
    assert row.prompt_tokens == result.usage.prompt_tokens
    assert row.result["tasks"][0]["value"] == "value-of-a"
    again = log.get(result.run_id[:6])
    assert again is not None
    assert again.result == json.loads(result.to_json(redact=True))  # as every sink keeps it
    assert log.get("zzz") is None
    assert RunLog(tmp_path / "runs.sqlite").recent()[0].run_id == result.run_id  # persisted


@pytest.mark.slow  # the REPL, as a process in a pseudo-terminal
@pytest.mark.timeout(120)
def test_repl_end_to_end_in_a_pseudo_terminal(tmp_path: Path) -> None:
    replies = deque(
        [
            Reply('1. lookup(key="a")\n2. lookup(key="b")\njoin()\n'),
            Reply("Thought: both found.\nAction: Finish(**a** is value-of-a)"),
            # follow-ups number their calls on from the conversation's (1 and 2)
            Reply("3. slow(seconds=60)\njoin()\n"),
            Reply('3. delete_file(path="/tmp/x")\njoin()\n'),
            Reply("Action: Finish(the file is gone)"),
            Reply('1. lookup(key="c")\njoin()\n'),  # after /new: from 1 again
            Reply("Action: Finish(c is value-of-c)"),
        ]
    )
    with ThreadedServer(replies) as server, (tmp_path / "pty.log").open("w") as log:
        env = {
            **os.environ,
            "TOOLWEAVE_STATE": str(tmp_path),
            "PYTHONPATH": str(TESTS),
            "TERM": "xterm",
            "PROMPT_TOOLKIT_NO_CPR": "1",
        }
        child = pexpect.spawn(
            sys.executable,
            [
                "-m",
                "toolweave",
                "repl",
                "--model",
                f"openai:scripted@{server.base_url}",
                "--tools",
                "support.repl_tools:TOOLS",
            ],
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(40, 140),
            logfile=log,  # what the terminal showed, for when this fails
        )
        try:
            child.expect("Ctrl-D exits")
            child.expect("toolweave>")
            child.sendline("look up a and b")
            child.expect("value-of-b")  # the live rows
            child.expect("is value-of-a")  # the answer, as Markdown (a in bold)
            child.expect("2/2 tasks")
            child.expect("toolweave>")
            child.sendline("/usage")
            child.expect("cost")
            child.expect("session")
            child.expect("no price for this model")
            child.expect("toolweave>")
            child.sendline("wait for a slow thing")
            child.expect("running")
            child.sendintr()  # Ctrl-C cancels the run in flight...
            child.expect("cancelled")
            child.expect("toolweave>")  # ...and the prompt comes back
            child.sendline(f"/save {tmp_path / 'cancelled.json'}")  # it would be the gold
            child.expect(r"the last run did not finish \(cancelled\); /save keeps a finished")
            child.expect("toolweave>")
            child.sendline("/history")
            child.expect("2  wait for a slow thing")
            child.sendline("/plan")
            child.expect(r"slow\(seconds=60\)")
            child.expect("toolweave>")
            child.sendline("delete /tmp/x")
            child.expect(r"run delete_file\(path=\"/tmp/x\"\)\? \[y/N\]")
            child.sendline("y")
            child.expect("the file is gone")
            child.expect("toolweave>")
            child.sendline(f"/save {tmp_path / 'case.json'}")
            child.expect("saved")
            child.expect("toolweave>")
            child.sendline(f"/plan --svg {tmp_path / 'plan.svg'}")
            child.expect("timeline")
            child.expect("toolweave>")
            child.sendline("/new")
            child.expect("a new conversation")
            child.expect("toolweave>")
            child.sendline("look up c")
            child.expect("c is value-of-c")
            child.expect("toolweave>")
            child.sendeof()  # Ctrl-D exits
            child.expect(r"toolweave repl --resume (\w+)")
            conversation = child.match.group(1)
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0
    # the first conversation's planner saw its first turn; the one after /new did not
    first_follow_up = server.requests[2]["messages"][-1]["content"]
    assert "- Asked: look up a and b" in first_follow_up
    assert "Earlier in this conversation" not in server.requests[5]["messages"][-1]["content"]
    svg = ElementTree.parse(tmp_path / "plan.svg").getroot()
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}rect[@class='task succeeded']")) == 1
    # --resume continues the conversation after /new: its one turn is back
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "toolweave",
            "repl",
            "--model",
            "openai:scripted@http://127.0.0.1:9/v1",
            "--tools",
            "support.repl_tools:TOOLS",
            "--resume",
            conversation,
        ],
        env=env,
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 140),
    )
    try:
        child.expect(f"conversation {conversation}: 1 earlier turns")
        child.expect("toolweave>")
        child.sendline("/history")
        child.expect("1  look up c")
        child.expect("toolweave>")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert not (tmp_path / "cancelled.json").exists()
    case = json.loads((tmp_path / "case.json").read_text())
    assert case["query"] == "delete /tmp/x"
    assert case["calls"][0]["args"] == {"path": "/tmp/x"}
    runs = RunLog(tmp_path / "runs.sqlite").recent()
    assert [(r.request, r.status) for r in runs] == [
        ("look up c", "finished"),
        ("delete /tmp/x", "finished"),
        ("wait for a slow thing", "cancelled"),  # a cancelled run is logged too
        ("look up a and b", "finished"),
    ]
    assert (tmp_path / "history").read_text().count("look up a and b") == 1


@pytest.mark.slow  # the CLI, as processes
async def test_log_command_lists_and_shows_runs(tmp_path: Path) -> None:
    import asyncio

    model = ScriptedModel(['1. lookup(key="z")\njoin()\n', "Action: Finish(z found)"])
    result = await Agent(model, TOOLS).run("find z")
    RunLog(tmp_path / "runs.sqlite").add(result, "scripted")
    env = {**os.environ, "TOOLWEAVE_STATE": str(tmp_path), "COLUMNS": "160"}

    async def cli(*args: str, code: int = 0) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "toolweave",
            "log",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == code, out
        return out.decode()

    listing = await cli()
    assert result.run_id in listing
    assert "find z" in listing
    assert "finished" in listing
    shown = json.loads(await cli(result.run_id[:8]))
    assert shown["answer"] == "z found"
    assert shown["tasks"][0]["call"] == 'lookup(key="[redacted]")'  # a `key` field is hidden
    assert json.loads(await cli("show", result.run_id[:8]))["answer"] == "z found"
    # found by probing: `log show` read "show" as a run id, `log --svg F` listed runs
    for args in (("show",), ("--svg", str(tmp_path / "t.svg"))):
        assert "needs a run id" in await cli(*args, code=2)


async def test_slash_commands_are_one_table_that_help_lists_and_the_dispatcher_runs() -> None:
    from types import SimpleNamespace

    from toolweave.cli._repl_state import ReplState
    from toolweave.cli._slash import COMMANDS, run_command

    assert list(COMMANDS) == [
        "/help",
        "/tools",
        "/plan",
        "/trace",
        "/usage",
        "/new",
        "/model",
        "/history",
        "/save",
        "/learn",
        "/clear",
        "/exit",
    ]
    console = Console(record=True, width=200, markup=False)  # as the CLI's
    state = ReplState(requests=["first question", "second question"])
    repl = SimpleNamespace(console=console, state=state)
    assert await run_command(repl, "/help") is True  # type: ignore[arg-type]
    shown = console.export_text()
    for name, command in COMMANDS.items():
        assert re.search(rf"^ *{name} +{re.escape(command.help)} *$", shown, re.M), name
    assert "/quit" not in shown  # an alias, not listed
    assert await run_command(repl, "/history") is True  # type: ignore[arg-type]
    assert await run_command(repl, "/plan") is True  # type: ignore[arg-type]
    assert await run_command(repl, "/nope now") is True  # type: ignore[arg-type]
    shown = console.export_text()
    assert "  1  first question\n  2  second question" in shown
    assert "no run yet" in shown
    assert "unknown command /nope; /help lists them" in shown
    assert await run_command(repl, "/exit") is False  # type: ignore[arg-type]
    assert await run_command(repl, "/quit") is False  # type: ignore[arg-type]
