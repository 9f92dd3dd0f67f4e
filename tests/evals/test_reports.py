"""The reference report, the script that reproduces it, and the paths that cite reports."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
REPORTS = ROOT / "evals" / "reports"
REFERENCE = REPORTS / "reference"
SUITES = ("parallelqa", "movie", "hotpotqa", "autotools", "restbench", "shortcutsbench")
# Where a design choice cites a report: the code, the README and the docs (the history
# page names every report, kept or not, so it does not count as a reason to keep one).
CITING = [
    *ROOT.glob("toolweave/**/*.py"),
    *ROOT.glob("benchmarks/**/*.py"),
    ROOT / "README.md",
    *(p for p in ROOT.glob("docs/**/*.md") if p.name != "history.md"),
    *(p for p in ROOT.glob("evals/**/*.md") if REPORTS not in p.parents),
]
_CITED = re.compile(r"evals/reports/[\w./-]*[\w/]")


def script(name: str) -> ModuleType:
    """One of the scripts in evals/reports/, imported from its file."""
    spec = importlib.util.spec_from_file_location(name, REPORTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def runs(path: Path) -> Counter[tuple[str, str]]:
    """How many rows each (suite, strategy) has."""
    return Counter((str(r["suite"]), str(r["strategy"])) for r in rows(path))


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("countries", {("countries", s): 30 for s in ("llmcompiler", "react", "parallel-fc")}),
        ("suites", {(suite, s): 6 for suite in SUITES for s in ("llmcompiler", "react")}),
    ],
)
def test_the_reference_holds_every_suite_and_strategy_recorded_and_replayed(
    part: str, expected: dict[tuple[str, str], int]
) -> None:
    where = REFERENCE / part
    for name in ("report.md", "report.json", "accuracy.svg", "latency.svg", "settings.json"):
        assert (where / name).is_file(), name
        assert (where / "replay" / name).is_file(), f"replay/{name}"
    assert (where / "record" / "calls.jsonl.gz").is_file()
    assert runs(where / "results.jsonl") == expected
    assert runs(where / "replay" / "results.jsonl") == expected


def test_the_script_runs_the_reference_countries_then_replays_and_summarizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reproduce = script("reproduce")
    assert reproduce.main([str(tmp_path), "--part", "countries", "--dry-run"]) == 0
    measured, replayed, summary = [
        shlex.split(line) for line in capsys.readouterr().out.splitlines()
    ]
    three = ["--strategy", "llmcompiler", "--strategy", "react", "--strategy", "parallel-fc"]
    out = tmp_path / "countries"
    assert measured == [
        *reproduce.TOOLWEAVE,
        *["eval", "countries", "--limit", "30", "--seed", "0", "--model", "local", *three],
        *["--record", str(out / "record"), "--out", str(out)],
    ]
    # a dry run replays the whole sample: the 30 cases the reference holds
    ids = replayed[replayed.index("--seed") + 2 : replayed.index("--replay")]
    reference = {str(r["id"]) for r in rows(REFERENCE / "countries" / "results.jsonl")}
    assert set(ids[1::2]) == reference
    assert len(ids) == 60
    assert set(ids[::2]) == {"--case"}
    assert replayed[replayed.index("--replay") :] == [
        *["--replay", str(out / "record"), "--pace", "0.4,80", *three],
        *["--out", str(out / "replay")],
    ]
    assert summary == [sys.executable, str(REPORTS / "summarize.py"), str(out)]


def test_the_suites_run_in_two_halves_of_their_seeded_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reproduce = script("reproduce")
    args = [str(tmp_path), "--part", "suites", "--suite", "restbench", "--suite", "autotools"]
    assert reproduce.main([*args, "--no-replay", "--dry-run"]) == 0
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines()][:-1]
    assert [c[len(reproduce.TOOLWEAVE) + 1] for c in commands] == [
        *["restbench", "autotools", "restbench", "autotools"]
    ]
    for command in commands:
        assert [a for a in command if a in ("--strategy", "llmcompiler", "react")] == [
            *["--strategy", "llmcompiler", "--strategy", "react"]
        ]
        assert command[command.index("--limit") + 1] == "6"
    reference = rows(REFERENCE / "suites" / "results.jsonl")
    for i, suite in enumerate(("restbench", "autotools")):
        halves = [c[c.index("--case") :][1::2] for c in (commands[i], commands[i + 2])]
        assert [len(h) for h in halves] == [3, 3]
        measured = {str(r["id"]) for r in reference if r["suite"] == suite}
        assert {*halves[0], *halves[1]} == measured


def test_the_replay_covers_the_cases_every_strategy_finished(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reproduce = script("reproduce")
    assert reproduce.main([str(REFERENCE), "--replay-only", "--dry-run"]) == 0
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines()]
    replays = commands[:-1]
    assert [c[len(reproduce.TOOLWEAVE) + 1] for c in replays] == ["countries", *SUITES]
    assert [c.count("--case") for c in replays] == [30, 6, 6, 6, 6, 6, 6]
    assert all("--model" not in c and "--record" not in c for c in replays)


def test_summarize_prints_the_references_headline_table() -> None:
    summarize = script("summarize")
    table = "\n".join(summarize.summarize(REFERENCE / "countries"))
    assert "| answer_ok | 0.93 | 0.83 | 0.43 |" in table
    assert "| llmcompiler's speed-up over it, CPU | - | 1.66x | 1.04x |" in table
    assert "| llmcompiler's speed-up over it, replayed | - | 1.80x | 0.99x |" in table
    assert "| evaluated prompt + completion tokens per case | 208 | 271 | 253 |" in table


def test_every_report_path_cited_exists() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {cited}"
        for path in CITING
        for cited in _CITED.findall(path.read_text())
        if not (ROOT / cited).exists()
    ]
    assert missing == []


def test_every_kept_ablation_is_cited() -> None:
    text = "\n".join(path.read_text() for path in CITING)
    kept = sorted(p.name for p in (REPORTS / "ablations").iterdir() if p.is_dir())
    assert kept
    assert [name for name in kept if f"evals/reports/ablations/{name}" not in text] == []
