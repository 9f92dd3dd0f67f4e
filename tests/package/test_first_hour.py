"""A new user's first hour, from the README and a plain install (issue 29, items 13-15)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from collections import deque
from pathlib import Path

import pytest
from support.openai_server import Reply, ThreadedServer

import toolweave
from toolweave import UserError

BIN = Path(sys.executable).parent


def _toolweave(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it (not ``python -m``)."""
    return subprocess.run(
        [str(BIN / "toolweave"), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow  # the console script, as a process
def test_tools_from_a_module_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "mytools.py").write_text(
        textwrap.dedent(
            '''
            from toolweave import tool

            @tool(read_only=True)
            def shout(text: str) -> str:
                """Say it louder."""
                return text.upper() + "!"

            TOOLS = [shout]
            '''
        )
    )
    replies = deque([Reply('1. shout(text="hello")\njoin()\n'), Reply("Action: Finish(HELLO!)")])
    with ThreadedServer(replies) as server:
        model = f"openai:m@{server.base_url}"
        run = _toolweave(
            "run", "Shout hello", "--tools", "mytools:TOOLS", "--model", model, cwd=tmp_path
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "HELLO!" in run.stdout


@pytest.mark.slow  # the console script, as a process
def test_version(tmp_path: Path) -> None:
    run = _toolweave("--version", cwd=tmp_path)
    assert run.returncode == 0
    assert run.stdout.strip() == f"toolweave {toolweave.__version__}"
    assert toolweave.__version__ == importlib.metadata.version("toolweave")


def test_the_demo_tools_need_no_extra() -> None:
    requires = importlib.metadata.requires("toolweave") or []
    plain = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("countryinfo") for r in plain), plain


def test_the_package_is_typed_and_licensed() -> None:
    root = Path(toolweave.__file__).parent
    assert (root / "py.typed").is_file()
    meta = importlib.metadata.metadata("toolweave")
    assert "Typing :: Typed" in meta.get_all("Classifier", [])
    assert meta["License-Expression"] == "Apache-2.0"
    assert "Apache License" in (root.parent / "LICENSE").read_text()


@pytest.mark.slow  # mypy over the library: about 20 s
@pytest.mark.timeout(300)
def test_mypy_strict_sees_the_library_as_typed(tmp_path: Path) -> None:
    user = tmp_path / "app.py"
    user.write_text(
        textwrap.dedent(
            """
            from toolweave import Agent, RunResult, tool

            @tool(read_only=True)
            def double(x: int) -> int:
                \"\"\"Twice x.\"\"\"
                return 2 * x

            def answer(agent: Agent) -> str | None:
                result: RunResult = agent.run_sync("twice 21?")
                return result.answer
            """
        )
    )
    root = Path(toolweave.__file__).parent.parent
    run = subprocess.run(  # the project's own mypy settings: its cache makes this quick
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(root / "pyproject.toml"),
            "--cache-dir",
            str(root / ".mypy_cache"),
            str(user),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert "py.typed" not in run.stdout, run.stdout
    assert run.returncode == 0, run.stdout


def test_a_missing_extra_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolweave.retrieval import MiniLMEmbedder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(UserError) as caught:
        MiniLMEmbedder()
    assert "\n" not in str(caught.value)
    assert "pip install 'toolweave[minilm]'" in str(caught.value)
