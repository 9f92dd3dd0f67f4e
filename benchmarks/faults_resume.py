"""Resume tampering: a paused run's state edited at random, replayed and raced.

A paused run waits for the approval of two destructive calls. Each input edits its
JSON state as an attacker who holds it might (a task's tool, planned arguments, stored
value, state or dependencies; a task added, repeated or removed; the pending calls;
the plans; the status; the pause id), then resumes it with every pending call
approved. The promise: a destructive call runs only as one of the calls a person
approved (same tool, same arguments), each at most once; every resume ends in a run
or in a clear `UserError`; with a key, every edit is refused when the state is read.
Then the same pause is resumed again and again, several at once: it runs once.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from toolweave import (
    Agent,
    ResumeLedger,
    RunResult,
    StateError,
    ToolRegistry,
    ToolweaveError,
    UserError,
    tool,
)
from toolweave.models.testing import ScriptedModel

KEY = b"the campaign's state key, kept apart"
BOUND = 10.0  # seconds a resume may take
calls: list[tuple[str, str]] = []


@tool(read_only=True)
def find(name: str) -> str:
    """The path of a file."""
    return f"/data/{name}"


@tool(destructive=True)
def delete(path: str) -> str:
    """Delete a file."""
    calls.append(("delete", path))
    return f"deleted {path}"


@tool(destructive=True)
def wipe_disk(path: str) -> str:
    """Wipe a disk."""
    calls.append(("wipe_disk", path))
    return "wiped"


@tool(read_only=True)
def report(text: str) -> str:
    """Report a line."""
    return text.upper()


TOOLS = ToolRegistry([find, delete, wipe_disk, report])
PLAN = """1. find(name="a")
2. find(name="b")
3. delete(path=$1)
4. delete(path=$2)
5. report(text="$3")
join()
<END_OF_PLAN>"""
APPROVED = {("delete", "/data/a"), ("delete", "/data/b")}
POOL: list[Any] = [
    "wipe_disk",
    "delete",
    "report",
    "/etc/passwd",
    "/data/a",
    "",
    None,
    0,
    -1,
    3,
    7,
    10**12,
    1.5,
    True,
    [],
    {},
    [1],
    {"$ref": 1},
    {"$ref": 4},
    {"$ref": 99},
    {"path": "/etc/passwd"},
    {"path": {"$ref": 2}},
    {"path": {"$ref": 1}},
    {"text": "x"},
    "pending",
    "succeeded",
    "skipped",
    "running",
    "failed",
    "paused",
    "finished",
]
TASK_FIELDS = ["tool", "plan_args", "value", "state", "deps", "id", "args", "error", "memo_of"]


@dataclass
class Stats:
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unsigned_refused: int = 0
    signed_refused: int = 0
    signed_unchanged: int = 0
    replays: int = 0
    replay_runs: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _agent(*replies: str, ledger: ResumeLedger | None = None) -> Agent:
    model = ScriptedModel(list(replies) or ["Action: Finish(done)"] * 3)
    return Agent(model, TOOLS, approve="pause", resume_ledger=ledger or ResumeLedger(":memory:"))


def mutate(state: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], str]:
    """An edited copy of `state`, and what was edited."""
    data = copy.deepcopy(state)
    done: list[str] = []
    for _ in range(rng.randint(1, 3)):
        tasks, kind = data["tasks"], rng.randrange(9)
        plans = [p for p in _list(data.get("plans")) if isinstance(p, dict)]
        if kind <= 2 and tasks:
            task, name = rng.choice(tasks), rng.choice(TASK_FIELDS)
            task[name] = rng.choice(POOL)
            done.append(f"task {task.get('id')}.{name}")
        elif kind == 3 and tasks:
            twin = {**rng.choice(tasks), "tool": rng.choice(["wipe_disk", "delete"])}
            tasks.insert(rng.randrange(len(tasks) + 1), twin)
            done.append(f"task {twin.get('id')} repeated")
        elif kind == 4:
            new_id = rng.choice([6, 7, 3, 0])
            tasks.append(
                {
                    "id": new_id,
                    "tool": "wipe_disk",
                    "deps": [3],
                    "state": rng.choice(["skipped", "pending"]),
                    "plan_args": {"path": {"$ref": 3}},
                    "value": None,
                    "error": None,
                }
            )
            if plans and rng.random() < 0.5:
                plans[-1]["task_ids"] = [*_list(plans[-1].get("task_ids")), new_id]
            done.append(f"task {new_id} added")
        elif kind == 5 and tasks:
            tasks.remove(rng.choice(tasks))
            done.append("a task removed")
        elif kind == 6 and [e for e in _list(data.get("pending")) if isinstance(e, dict)]:
            entry = rng.choice([e for e in data["pending"] if isinstance(e, dict)])
            name = rng.choice(["id", "tool", "args"])
            entry[name] = rng.choice(POOL)
            done.append(f"pending.{name}")
        elif kind == 7 and plans:
            plan = rng.choice(plans)
            plan["task_ids"] = rng.choice([[], [1, 2, 3], [1, 2, 3, 4, 5, 5], [5, 4, 3, 2, 1]])
            done.append("plan task ids")
        else:
            name = rng.choice(["status", "pause_id", "pending", "plans"])
            data[name] = rng.choice(POOL)
            done.append(name)
    return data, ", ".join(done)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


async def _resume(text: str, key: bytes | None = None, *, trust: bool = False) -> str:
    """Resume a state's text with every pending call approved; the outcome, in a word.

    With `trust`, a state read without a key is taken (``trust_unsigned``): what the
    checks behind the signature do alone.
    """
    agent = _agent()
    try:
        paused = RunResult.from_json(text, key=key)
        approvals = {p.id: True for p in paused.pending if isinstance(p.id, int)}
        async with asyncio.timeout(BOUND):
            result = await agent.resume(paused, approvals=approvals, trust_unsigned=trust)
        return result.status
    except StateError:
        return "refused (state)"
    except UserError:
        return "refused (usage)"
    except TimeoutError:
        return "HANG"
    except ToolweaveError as exc:
        return "failed" if exc.result is not None else f"NO RESULT {type(exc).__name__}"
    except Exception as exc:
        return f"CRASH {type(exc).__name__}: {exc}"
    finally:
        agent.close()


async def campaign(inputs: int = 1000, *, seed: int = 0, replays: int = 50) -> Stats:
    """Try `inputs` edited states and `replays` rounds of five racing resumes."""
    rng = random.Random(seed)
    stats = Stats()
    start = time.perf_counter()
    paused = await _agent(PLAN).run("Delete a and b, then report")
    assert paused.status == "paused", paused.error
    state = json.loads(paused.to_json())
    signed = json.loads(paused.to_json(key=KEY))
    for n in range(inputs):
        edited, what = mutate(state, rng)
        calls.clear()
        if (await _resume(json.dumps(edited))).startswith("refused") and not calls:
            stats.unsigned_refused += 1  # read without a key: refused, by default
        else:
            stats.violations.append(f"input {n} ({what}): taken unsigned, ran {calls}")
        outcome = await _resume(json.dumps(edited), trust=True)
        stats.inputs += 1
        stats.outcomes[outcome] += 1
        wrong = [c for c in calls if c not in APPROVED]
        if wrong or len(calls) != len(set(calls)):
            stats.violations.append(f"input {n} ({what}): ran {calls}")
        if outcome.startswith(("HANG", "CRASH", "NO RESULT")):
            stats.violations.append(f"input {n} ({what}): {outcome}")
        # the same edit of a signed state: refused when read, unless it changed nothing
        edited_signed = {**edited, "mac": signed["mac"]}
        calls.clear()
        verdict = await _resume(json.dumps(edited_signed), key=KEY)
        if edited == state:
            stats.signed_unchanged += 1
        elif verdict == "refused (state)" and not calls:
            stats.signed_refused += 1
        else:
            stats.violations.append(f"signed input {n} ({what}): {verdict}, ran {calls}")
    text = paused.to_json(key=KEY)
    for n in range(replays):
        calls.clear()
        ledger = ResumeLedger(":memory:")  # one ledger, as one machine's workers share
        copies = [RunResult.from_json(text, key=KEY) for _ in range(5)]
        outcomes = await asyncio.gather(
            *(_agent(ledger=ledger).resume(c, approvals={3: True, 4: True}) for c in copies),
            return_exceptions=True,
        )
        runs = sum(isinstance(o, RunResult) for o in outcomes)
        refused = sum(isinstance(o, StateError) for o in outcomes)
        stats.replays += 5
        stats.replay_runs += runs
        if runs != 1 or refused != 4 or sorted(calls) != sorted(APPROVED):
            stats.violations.append(f"replay {n}: {runs} runs, {refused} refused, ran {calls}")
    stats.seconds = time.perf_counter() - start
    return stats


def report(stats: Stats) -> list[str]:
    """The report's section."""
    lines = [
        "## Resume tampering",
        "",
        "A paused run waiting on two approved destructive calls; its JSON state edited "
        "at random (one to three edits an input: a task's tool, planned arguments, "
        "value, state, dependencies or id; a task repeated, added or removed; the "
        "pending calls; the plans; the status; the pause id), then resumed with every "
        "pending call approved; the same edit of a signed state read with its key; then "
        "one pause resumed five times at once, round after round.",
        "",
        "| outcome of an edited state's resume, read unsigned and trusted anyway | inputs |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {count} |" for name, count in stats.outcomes.most_common()]
    lines += [
        "",
        f"- inputs tried: {stats.inputs} edited states: read without a key, "
        f"{stats.unsigned_refused} refused by default (the table: resumed with "
        "`trust_unsigned=True`, what the checks behind the signature do alone); each "
        f"also signed ({stats.signed_refused} refused when read with the key, "
        f"{stats.signed_unchanged} edits that changed nothing); "
        f"{stats.replays} racing resumes of one pause ({stats.replays // 5} rounds of 5)",
        f"- racing resumes that ran: {stats.replay_runs} (one a round)",
        "- defects found on the code before issue 29 (300 inputs, seed 0, adapted to its "
        "API): 8 edits ran an unapproved destructive call (an earlier task's value, the "
        "tool, a task repeated behind the pending one: `delete /etc/passwd`-like paths, "
        "`wipe_disk`); in every round all 5 "
        "racing resumes ran the approved calls again",
        f"- destructive calls outside what was approved, or run twice: "
        f"{len(stats.violations)} violation(s) left; {stats.seconds:.1f} s",
        "",
    ]
    lines += [f"  - {v}" for v in stats.violations[:20]]
    return lines


if __name__ == "__main__":
    print("\n".join(report(asyncio.run(campaign()))))
