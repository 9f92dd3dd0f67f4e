"""Text from models and tools is data: never markup, never terminal control, no secrets."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import threading
from collections import deque
from pathlib import Path

import pytest
from rich.console import Console
from support.hostile_tools import HOSTILE, TOOLS
from support.openai_server import OpenAIServer, Reply

from toolweave import Agent, tool
from toolweave.cli._cmd_run import live_run
from toolweave.cli._render import RunView
from toolweave.cli._runlog import RunLog
from toolweave.cli._safe import REDACTED, clean, one_line
from toolweave.errors import ToolError
from toolweave.events import TaskFailed, TaskPlanned, TaskSucceeded
from toolweave.models.testing import ScriptedModel
from toolweave.plan import PlanTask

PLAN = 'Thought: fetch.\n1. fetch(item="[bold]a[/bold]")\njoin()\n<END_OF_PLAN>'
ANSWER = "Thought: done.\nAction: Finish(the text was [/x] and \x1b[31mred\x1b[0m)"


def test_clean_strips_control_sequences_and_keeps_the_text() -> None:
    assert clean(HOSTILE) == "[/x] [red]red[/red]  [link=file:///etc]x[/link]"
    assert clean("a\x1b[1;31mb\x9b2Jc\x00d\x07e") == "abcde"
    assert clean("line one\nline two\tend") == "line one\nline two\tend"
    assert one_line("a\n\n b \x1b[0m c", 4) == "a b…"
    assert clean("x" * 10, 5) == "xxxx…"


async def test_live_table_shows_markup_and_escapes_as_plain_text() -> None:
    console = Console(record=True, width=200, force_terminal=False)  # markup on, as rich's default
    model = ScriptedModel([PLAN, ANSWER])
    result = await live_run(Agent(model, TOOLS), "q", console)
    assert result is not None
    assert result.status == "finished"
    text = console.export_text()
    assert "[/x] [red]red[/red]" in text  # shown as written, not applied
    assert "\x1b" not in text
    assert "pwned" not in text  # the window-title sequence is gone whole
    assert 'fetch(item="[bold]a[/bold]")' in text
    assert "the text was [/x] and red" in text


@pytest.mark.slow  # the CLI, as a process
async def test_cli_run_with_a_tool_returning_markup_exits_0(tmp_path: Path) -> None:
    tests_dir = str(Path(__file__).parents[1])
    replies = deque([Reply(PLAN), Reply(ANSWER)])
    async with OpenAIServer(replies) as server:
        state = tmp_path / "state"
        env = {
            **os.environ,
            "PYTHONPATH": tests_dir,
            "TOOLWEAVE_STATE": str(state),
            "COLUMNS": "250",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "toolweave",
            "run",
            "q",
            "--model",
            f"openai:scripted@{server.base_url}",
            "--tools",
            "support.hostile_tools:TOOLS",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text
    assert "[/x] [red]red[/red]" in text
    assert "\x1b]0;" not in text
    assert "\x1b[2J" not in text
    assert "the text was [/x] and red" in text


def test_live_view_renders_while_events_arrive_from_another_thread() -> None:
    view = RunView()
    errors: list[BaseException] = []
    stop = threading.Event()

    def render() -> None:
        try:
            while not stop.is_set():
                view.render(120, max_rows=30)
                view.render(120)
        except BaseException as exc:  # a dict changed size while being iterated
            errors.append(exc)

    renderer = threading.Thread(target=render)
    renderer.start()
    try:
        for tid in range(1, 3001):
            task = PlanTask(id=tid, tool="fetch", args={"item": str(tid)})
            view.handle(TaskPlanned(run_id="r", task=task))
            view.handle(TaskSucceeded(run_id="r", task=task, at=0.0, value=HOSTILE, duration=0.0))
    finally:
        stop.set()
        renderer.join(10)
    assert errors == []
    assert len(view.rows) == 3000


def test_live_view_folds_finished_tasks_but_never_a_running_or_failed_one() -> None:
    view = RunView(max_rows=5)
    for tid in range(1, 21):
        task = PlanTask(id=tid, tool="fetch", args={"item": str(tid)})
        view.handle(TaskPlanned(run_id="r", task=task))
        if tid == 3:
            view.handle(
                TaskFailed(
                    run_id="r", task=task, at=0.0, error=ToolError("fetch", "boom"), duration=0.0
                )
            )
        elif tid != 7:
            view.handle(TaskSucceeded(run_id="r", task=task, at=0.0, value=tid, duration=0.0))
    console = Console(width=120, record=True)
    console.print(view)
    folded = console.export_text()
    shown = [
        int(line.split()[0])
        for line in folded.splitlines()
        if line.split()[:1] != [] and line.split()[0].isdigit()
    ]
    assert shown == [3, 7, 18, 19, 20]
    assert "15 finished tasks not shown" in folded
    console.print(view.render(120))  # what /plan shows: every row
    assert "not shown" not in console.export_text()


def test_run_log_redacts_secrets_and_can_keep_them(tmp_path: Path) -> None:
    @tool(read_only=True)
    def call_api(url: str, api_key: str, password: str = "") -> dict[str, str]:
        """Call an API."""
        return {"status": "ok", "token": "t-12345", "echo": url}

    plan = (
        '1. call_api(url="https://x", api_key="k-123", password="hunter2")\njoin()\n<END_OF_PLAN>'
    )
    model = ScriptedModel([plan, "Action: Finish(key sk-abcdefghijklmnopqrstuv used)"] * 2)
    agent = Agent(model, [call_api])
    result = agent.run_sync("use sk-abcdefghijklmnopqrstuv")

    log = RunLog(tmp_path / "runs.sqlite")
    log.add(result, "scripted")
    stored = log.get(result.run_id)
    assert stored is not None
    raw = json.dumps(stored.result) + stored.request + str(stored.answer)
    for secret in ("k-123", "hunter2", "t-12345", "sk-abcdefghijklmnopqrstuv"):
        assert secret not in raw
    task = stored.result["tasks"][0]
    assert task["call"] == (
        f'call_api(url="https://x", api_key="{REDACTED}", password="{REDACTED}")'
    )
    assert task["value"] == {"status": "ok", "token": REDACTED, "echo": "https://x"}
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:  # nothing verbatim on disk
        dump = "\n".join(db.iterdump())
    assert "hunter2" not in dump

    verbatim = RunLog(tmp_path / "verbatim.sqlite", redact=False)
    verbatim.add(result, "scripted")
    kept = verbatim.get(result.run_id)
    assert kept is not None
    assert "hunter2" in kept.result["tasks"][0]["call"]


def test_redaction_keeps_ordinary_names() -> None:
    from toolweave.cli._safe import redact, redact_text

    kept = {"first_token_at": 1.5, "prompt_tokens": 3, "sort_key": "name", "tokenizer": "x"}
    assert redact(kept) == kept
    hidden = {"api_key": "a", "db_password": "b", "refresh_token": "c", "client_secret": "d"}
    assert set(redact(hidden).values()) == {REDACTED}
    assert redact_text("f(first_token=3, token='t')") == f"f(first_token=3, token='{REDACTED}')"
