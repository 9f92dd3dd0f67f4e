"""Fault campaign, state: conversations with many writers, and secrets in every sink.

1. Concurrent session writers. Writers (threads, each with its own event loop, and
   spawned processes) run turns on one conversation id at once, at random moments. Each
   turn's model reads its planner prompt as a real model would: it numbers its calls
   from where the prompt says, and names an earlier value ``$k`` that the prompt lists.
   Checked: every turn is stored; no task id is stored twice nor listed twice in any
   prompt; every ``$k`` resolves to the value the turn that produced it produced.
2. Secrets per sink. Each secret of a corpus (every key shape, registered values,
   environment values, secrets that only their context gives away: ``pw=``, a URL's
   password, ``?key=``) is planted in every place a run can carry it: the request, a
   tool's arguments, its result and result fields, a failed call's exception, the
   model's replies, the answer. Then every sink is read back (run log rows, session
   store rows, telemetry spans from the SDK's in-memory exporter, and
   ``RunResult.to_json(redact=True)`` where it exists) and every leak is counted
   (faults_secrets.py).

``python benchmarks/faults_state.py`` prints the report's two sections.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faults_secrets
from probes import Outcome, table

from toolweave import Agent, SessionStore, ToolRegistry, tool
from toolweave.models.testing import FunctionModel


@dataclass
class Stats:
    """What the state campaign tried and found."""

    inputs: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    turns: int = 0  # turns stored by concurrent writers
    prompts: int = 0  # planner prompts checked
    refs: int = 0  # `$k` resolved across turns
    places: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    leaks: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    redact_us: float = 0.0  # redacting a typical RunResult dict, microseconds


# -- 1. concurrent session writers -----------------------------------------------------

_LISTED = re.compile(r'^\$(\d+) = tag\(label="([^"]+)"\)', re.MULTILINE)
_FIRST = re.compile(r"Number your calls from (\d+)")


@tool(read_only=True)
async def tag(label: str) -> str:
    """A value only this turn produces."""
    await asyncio.sleep(random.random() * 0.003)
    return f"v:{label}"


@tool(read_only=True)
def echo(x: str) -> str:
    """The value it was given (on a worker thread)."""
    return x


async def _turns(path: str, session_id: str, name: str, turns: int, seed: int) -> dict[str, Any]:
    """One writer's turns; what its prompts and refs showed."""
    rng = random.Random(seed)
    found: dict[str, Any] = {"violations": [], "prompts": 0, "refs": 0}
    expected: dict[int, str] = {}  # the ref's id -> the value the prompt named

    def respond(messages: list[Any], settings: Any) -> str:
        prompt = messages[-1]["content"]
        found["prompts"] += 1
        listed = _LISTED.findall(prompt)
        ids = [int(n) for n, _ in listed]
        if len(ids) != len(set(ids)):
            found["violations"].append(f"{name}: a prompt lists an id twice: {sorted(ids)}")
        first = int(m.group(1)) if (m := _FIRST.search(prompt)) else 1
        lines = [f'{first}. tag(label="{name}-{len(expected)}-{rng.random():.6f}")']
        if listed:
            k, label = rng.choice(listed)
            expected[first + 1] = f"v:{label}"
            lines.append(f"{first + 1}. echo(x=${k})")
        return "\n".join([*lines, "join()", "<END_OF_PLAN>"])

    model = FunctionModel(_alternating(respond))
    agent = Agent(model, ToolRegistry([tag, echo]))
    chat = agent.session(session_id, store=path)
    for _ in range(turns):
        await asyncio.sleep(rng.random() * 0.002)
        expected.clear()
        result = await chat.run(f"a turn of {name}")
        for tid, value in expected.items():
            found["refs"] += 1
            got = result.tasks[tid].value if tid in result.tasks else None
            if got != value:
                found["violations"].append(
                    f"{name}: ${tid} took {got!r}, the prompt said {value!r}"
                )
    chat.store.close()
    agent.close()  # its worker threads: the campaign counts those left behind
    return found


def _alternating(plan: Callable[[list[Any], Any], str]) -> Callable[[list[Any], Any], str]:
    """Planner, then joiner, then planner...: the calls of one run after another."""
    calls = iter(range(1_000_000))
    return lambda messages, settings: (
        plan(messages, settings) if next(calls) % 2 == 0 else ("Action: Finish(ok)")
    )


def writer(path: str, session_id: str, name: str, turns: int, seed: int) -> dict[str, Any]:
    """A writer (a thread's or a process's): its own loop, agent and Session."""
    try:
        return asyncio.run(_turns(path, session_id, name, turns, seed))
    except Exception as exc:  # a writer that crashes is a finding, not the campaign's end
        return {"violations": [f"{name} crashed: {exc!r}"], "prompts": 0, "refs": 0}


def _check_store(path: str, session_id: str, expected_turns: int, stats: Stats) -> list[str]:
    """Every turn stored; no id twice as stored; each echo took its ref's stored value."""
    problems = []
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "select tasks from turns where session_id = ? order by idx", (session_id,)
        ).fetchall()
    if len(rows) != expected_turns:
        problems.append(f"{len(rows)} turns stored of {expected_turns}")
    tasks = [t for (raw,) in rows for t in json.loads(raw)]
    ids = [t["id"] for t in tasks]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        problems.append(f"task ids stored twice: {twice[:10]}")
    values = {t["id"]: t["value"] for t in tasks if t["tool"] == "tag"}
    for t in tasks:
        ref = t["plan_args"].get("x") if t["tool"] == "echo" else None
        if isinstance(ref, dict) and values.get(ref.get("$ref")) != t["value"]:
            problems.append(f"${t['id']} took {t['value']!r}; ${ref['$ref']} holds another")
    stats.turns += len(rows)
    return problems


def concurrent_writers(
    stats: Stats, *, threads: int = 3, processes: int = 2, turns: int = 4, seed: int = 0
) -> None:
    """One round: `threads` + `processes` writers, `turns` turns each, on one id."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "sessions.sqlite")
        store = SessionStore(path)
        session_id = store.create()
        store.close()
        found: list[dict[str, Any]] = []
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(processes) as pool:
            pending = pool.starmap_async(
                writer,
                [(path, session_id, f"p{i}", turns, seed * 100 + i) for i in range(processes)],
            )
            workers = [
                threading.Thread(
                    target=lambda i=i: found.append(
                        writer(path, session_id, f"t{i}", turns, seed * 100 + 50 + i)
                    )
                )
                for i in range(threads)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join(120)
            found.extend(pending.get(120))
        problems = [v for f in found for v in f["violations"]]
        if len(found) != threads + processes:
            problems.append(f"{threads + processes - len(found)} writers did not finish")
        problems += _check_store(path, session_id, (threads + processes) * turns, stats)
    stats.inputs += (threads + processes) * turns
    stats.prompts += sum(f["prompts"] for f in found)
    stats.refs += sum(f["refs"] for f in found)
    name = f"{threads} threads + {processes} processes x {turns} turns (seed {seed})"
    detail = "; ".join(problems[:3]) or "every turn stored, each id once, every $N its own"
    stats.outcomes.append(Outcome(name, not problems, time.perf_counter() - started, detail))
    stats.violations += [f"{name}: {p}" for p in problems]


# -- 2. secrets per sink (faults_secrets.py) ------------------------------------------


async def secrets_per_sink(stats: Stats) -> None:
    """Every secret of the corpus, planted in every place; every sink read back."""
    faults_secrets.plant()
    stats.places = faults_secrets.PLACES
    try:
        for name, *_ in faults_secrets.CORPUS:
            started = time.perf_counter()
            read, leaked = await faults_secrets.probe(name)
            if faults_secrets.SKIPPED not in stats.notes and len(read) < 4:
                stats.notes.append(faults_secrets.SKIPPED)
            for sink in read:
                stats.leaks[sink] = stats.leaks.get(sink, 0) + (sink in leaked)
            stats.inputs += len(faults_secrets.PLACES)
            detail = f"leaked to: {', '.join(leaked)}" if leaked else "hidden in every sink"
            seconds = time.perf_counter() - started
            stats.outcomes.append(Outcome(f"secret: {name}", not leaked, seconds, detail))
            stats.violations += [f"{name} leaked to the {sink}" for sink in leaked]
    finally:
        os.environ.pop(faults_secrets.ENV_NAME, None)
    stats.sinks = list(stats.leaks)


def without_a_sink(stats: Stats) -> None:
    """A run without a sink never redacts; and what redacting costs where there is one."""
    started = time.perf_counter()
    if faults_secrets.redact_value is not None:
        calls = faults_secrets.redactions_without_a_sink()
        detail = "no redaction in a run without a sink" if not calls else f"redacted {calls}x"
        seconds = time.perf_counter() - started
        stats.outcomes.append(Outcome("a run without a sink", not calls, seconds, detail))
        if calls:
            stats.violations.append(f"a run without a sink redacted {calls} times")
    stats.redact_us, note = faults_secrets.redaction_cost()
    stats.notes.append(note)


# -- the campaign ----------------------------------------------------------------------


def campaign(rounds: int = 3, *, threads: int = 3, processes: int = 2, turns: int = 4) -> Stats:
    """Both campaigns: `rounds` rounds of concurrent writers, then the secrets corpus."""
    stats = Stats()
    for seed in range(rounds):
        concurrent_writers(stats, threads=threads, processes=processes, turns=turns, seed=seed)
    asyncio.run(secrets_per_sink(stats))
    without_a_sink(stats)
    return stats


DEFECTS_FOUND = [
    "two writers on one conversation stored the same task ids; a later prompt listed "
    "`$1` twice and `$1` resolved to the value of the turn stored last",
    "two writers appending at once: one crashed with sqlite3.IntegrityError (UNIQUE "
    "turns.session_id, turns.idx: the index was counted outside a write transaction) "
    "and its turns were lost",
    "the run log kept `pw=`, result fields `pass` and `key`, a URL's password, "
    "`?key=`/`&token=` in an exception's URL, Google `AIza` keys, registered and "
    "environment secrets",
    "the session store redacted nothing",
    "telemetry put a failed call's exception text, the request (the retrieval query) "
    "and the run's error into spans unredacted",
]


def report(stats: Stats) -> list[str]:
    """The campaign's two sections, as Markdown."""
    writers = [o for o in stats.outcomes if not o.name.startswith(("secret:", "a run"))]
    secrets = [o for o in stats.outcomes if o not in writers]
    lines = ["## Concurrent session writers", "", *table(writers, width=400)]
    lines += [
        "",
        f"- turns stored: {stats.turns}; planner prompts checked: {stats.prompts}; "
        f"`$N` resolved across turns: {stats.refs}",
        "",
        "## Secrets per sink",
        "",
        f"- secrets: {len(faults_secrets.CORPUS)}, each planted in {len(stats.places)} "
        f"places: {', '.join(stats.places)}",
        f"- sinks checked: {', '.join(stats.sinks)}",
        f"- leaks per sink: {', '.join(f'{k} {v}' for k, v in stats.leaks.items())}",
        *(f"- {note}" for note in stats.notes),
        "",
        *table(secrets, width=400),
    ]
    lines += [
        "",
        f"- inputs tried: {stats.inputs}",
        f"- defects found (on the code before this change): {len(DEFECTS_FOUND)}",
        *(f"  - {d}" for d in DEFECTS_FOUND),
        f"- defects left: {len(stats.violations)}",
        *(f"  - {v}" for v in stats.violations[:20]),
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(report(campaign())))
