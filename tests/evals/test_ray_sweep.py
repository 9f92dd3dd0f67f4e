"""An evaluation sweep on a local Ray instance (2 workers) against the same sweep run here."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray import cloudpickle  # noqa: E402

from toolweave.errors import UserError  # noqa: E402
from toolweave.evals._ray_sweep import run_eval_ray  # noqa: E402
from toolweave.evals.report import report  # noqa: E402
from toolweave.evals.runner import run_eval  # noqa: E402
from toolweave.evals.simulate import Simulation  # noqa: E402
from toolweave.models.testing import FunctionModel  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_instance")]

cloudpickle.register_pickle_by_value(sys.modules[__name__])

FAST = Simulation(latency=0.0)


def respond(messages: list[dict[str, str]], settings: object) -> str:
    """A scripted planner and joiner whose plan depends on the question only."""
    user = messages[-1]["content"]
    if "Results:" in user:
        return "Action: Finish(done)"
    words = user.removeprefix("Question: ").split()
    searches = 2 + len(words) % 3  # two to four, by the question's length
    plan = [f'{i}. search(query="{words[i % len(words)]}")' for i in range(1, searches + 1)]
    refs = " and ".join(f"${i}" for i in range(1, searches + 1))
    plan.append(f'{searches + 1}. math(problem="compare {refs}")')
    return "\n".join([*plan, "join()"])


def rows(out: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    found = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        row.pop("latency")  # wall time: the one thing that may differ
        found[row["suite"], row["strategy"], row["id"]] = row
    return found


def without_latency(data: dict[str, Any]) -> dict[str, Any]:
    return {
        suite: {s: {k: v for k, v in e.items() if k != "latency"} for s, e in entries.items()}
        for suite, entries in data.items()
    }


async def test_a_ray_sweep_scores_as_a_local_run_and_resumes(tmp_path: Path) -> None:
    model = functools.partial(FunctionModel, respond)  # made in each worker
    local, swept = tmp_path / "local", tmp_path / "ray"
    oracles = ["oracle", "oracle-drop"]
    await run_eval("autotools", oracles, model(), local, limit=5, simulation=FAST)
    await run_eval("parallelqa", ["llmcompiler"], model(), local, limit=6, simulation=FAST)

    # a sweep interrupted after two rows: the ray sweep must run only the rest
    await run_eval("autotools", ["oracle"], model(), swept, limit=2, simulation=FAST)
    totals: list[int] = []
    await run_eval_ray(
        ["autotools"],
        oracles,
        model,
        swept,
        workers=2,
        limit=5,
        simulation=FAST,
        progress=lambda done, total: totals.append(total),
    )
    assert set(totals) == {8}  # 2 strategies x 5 cases, less the 2 done
    await run_eval_ray(
        ["parallelqa"], ["llmcompiler"], model, swept, workers=2, limit=6, simulation=FAST
    )

    expected, got = rows(local), rows(swept)
    assert len(got) == len(expected) == 16
    assert got == expected
    assert {r["fanout_ok"] for k, r in got.items() if k[0] == "parallelqa"} == {0.0, 1.0}
    assert {r["api_f1"] for k, r in got.items() if k[1] == "oracle-drop"} != {1.0}
    assert without_latency(report(swept)) == without_latency(report(local))
    assert (swept / "report.md").read_text().startswith("# Evaluation report")

    with pytest.raises(UserError, match="seed: 0 there, 1 now"):  # not another run's rows
        await run_eval_ray(["autotools"], oracles, model, swept, seed=1, limit=5)


@pytest.mark.ray_slow
async def test_the_eval_command_sweeps_on_a_ray_cluster(tmp_path: Path) -> None:
    address = ray.get_runtime_context().gcs_address
    command = ["eval", "autotools", "--strategy", "oracle", "--limit", "3", "--latency", "0"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toolweave",
        *command,
        "--out",
        str(tmp_path / "ray"),
        "--ray",
        address,
        "--workers",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "autotools" in out.decode()
    await run_eval("autotools", ["oracle"], None, tmp_path / "local", limit=3, simulation=FAST)
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert (tmp_path / "ray" / "report.md").is_file()
