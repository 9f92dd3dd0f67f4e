"""Fault campaign: hostile MCP servers, over stdio and streamable HTTP.

Each probe starts the scripted hostile server (tests/support/mcp_hostile.py) misbehaving one
way: hanging in ``tools/call`` or ``initialize``, drip-feeding, answering tens of MB,
malformed JSON-RPC, another request's id, closing or crashing mid-call, advertising no
capabilities, hostile text in results, hostile tool lists; plus the reference time
server from PyPI where it is installed. An `Agent` with a `ScriptedModel` plan calls
the tool (a modest ``time_limit`` as a backstop). Every probe must end within its bound
with a clear error or the right value, every failed task must carry a `ToolError`, and
no server process may be left behind.

    python benchmarks/faults_mcp.py
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the servers

from faults_mcp_checks import (
    Check,
    Outcome,
    Ran,
    Stats,
    default_deadline,
    fails,
    foreign_errors,
    no_tools,
    refused,
    said,
    sane_list,
    tokyo,
    value,
)
from probes import table
from support import mcp_hostile, mcp_server
from support.mcp_fixtures import serve_http
from support.mcp_hostile import HOSTILE_TEXT, MiB

from toolweave import Agent, ToolError, ToolweaveError
from toolweave.executor import LocalExecutor
from toolweave.models.testing import ScriptedModel
from toolweave.sources import MCPSource

POKE = "1. poke()\njoin()\n<END_OF_PLAN>"
BIG = f"1. big(n={17 * MiB})\njoin()\n<END_OF_PLAN>"
FINISH = "Thought: done.\nAction: Finish(done)"
DEADLINE = 1.0  # call_timeout given to the probes' sources (seconds)
BOUND = 15.0  # a probe that takes longer is a hang (stopping a stuck server takes ~4 s)
BACKSTOP = 30.0  # the runs' time_limit
HUGE = 40 * MiB

# the defects this campaign caught on the code before issue 29 (items 4 and 5), found by
# running it there; each names the probes that showed it
DEFECTS_FOUND = [
    "no default deadline: a call to a server that never answers waited for the run's "
    "time limit (stdio default deadline)",
    "a stdio answer of tens of MB took time quadratic in its size, with no cap: 40 MiB "
    "answers came back after 13 to 17 s, and a 20 MiB line of no JSON-RPC held its call "
    "to the run's 30 s limit (stdio huge answer, id last, huge line of no JSON-RPC)",
    "an HTTP answer was read whole whatever its size (http huge answer, SDK server "
    "17 MiB answer), and one sent as a server-sent event was cut at the SDK's 1 MiB "
    "(http 3 MiB answer as an event)",
    "connect_timeout could not be passed to MCPSource.stdio() or .http(): a server "
    "hanging in initialize held the connection 30 s, and the error said only "
    "`TimeoutError` (hang in initialize, stdio and http)",
    "the reference time server (mcp-server-time) could not be used: `cannot connect: "
    "Method not found`, for subscribing to list changes it does not announce; the "
    "error named it after its last argument (reference time server)",
    "a server without the tools capability (no tools/list) could not be connected: "
    "`Method not found` (no capabilities, stdio and http)",
    "a malformed response waited for the deadline instead of failing its call at "
    "once (stdio malformed response)",
    "5,000 junk lines on stdout before each answer made a call miss a 1 s deadline "
    "(stdio log spam)",
    "tools whose input schema refers to itself, or types a property with a number, "
    "were offered, and their calls failed with RecursionError or TypeError (hostile "
    "tool list, stdio and http)",
    "a server that closed or crashed mid-call failed it with a bare `Connection "
    "closed`, after a silent second attempt (stdio closes stdout, crashes mid-answer)",
]


@dataclass(frozen=True)
class Probe:
    name: str
    transport: str  # stdio, http, time (the reference server) or sdk (the test server)
    scenario: str
    check: Check
    size: int = 0
    plan: str = POKE
    options: dict[str, Any] = field(default_factory=dict)


def probes() -> list[Probe]:
    """Every probe, stdio first."""
    quick = {"call_timeout": DEADLINE, "retries": 0}
    hostile_plan = (
        '1. poke()\n2. ref_loop()\n3. bad_type(q=1)\n4. echo(text="x")\njoin()\n<END_OF_PLAN>'
    )
    stdio = [
        Probe("default deadline", "stdio", "ok", default_deadline),
        Probe("well behaved", "stdio", "ok", value("poked"), options=quick),
        Probe(
            "hang in tools/call", "stdio", "hang_call", fails("timed out", "timeout"), options=quick
        ),
        Probe(
            "hang in initialize",
            "stdio",
            "hang_initialize",
            refused("did not answer within 1s"),
            options={"connect_timeout": 1.0},
        ),
        Probe(
            "drip-feed past the deadline",
            "stdio",
            "drip",
            fails("timed out", "timeout", serves_on=False),  # it drips into the next answer
            options=quick,
        ),
        Probe("drip-feed within the deadline", "stdio", "drip_ok", value("dripped")),
        Probe("huge answer (40 MiB)", "stdio", "huge", fails("max_result_bytes"), HUGE),
        Probe("huge answer, id last", "stdio", "huge_tail", fails("max_result_bytes"), HUGE),
        Probe(
            "huge line of no JSON-RPC", "stdio", "huge_garbage", fails("max_result_bytes"), 20 * MiB
        ),
        Probe("malformed response", "stdio", "malformed", fails("malformed"), options=quick),
        Probe(
            "response for another id",
            "stdio",
            "wrong_id",
            fails("timed out", "timeout"),
            options=quick,
        ),
        Probe("closes stdout mid-call", "stdio", "close", fails("dropped"), options=quick),
        Probe("crashes mid-answer", "stdio", "crash", fails("dropped"), options=quick),
        Probe("no capabilities", "stdio", "no_caps", no_tools),
        Probe("template tokens and control chars", "stdio", "templates", value(HOSTILE_TEXT)),
        Probe("error result", "stdio", "tool_error", fails("the poke was refused")),
        Probe(
            "image, no text",
            "stdio",
            "image",
            value({"type": "image", "data": "aGk=", "mimeType": "image/png"}),
        ),
        Probe("hostile tool list", "stdio", "hostile_list", sane_list, plan=hostile_plan),
        Probe("tool list no SDK accepts", "stdio", "broken_list", refused("cannot connect")),
        Probe("log spam on stdout", "stdio", "log_spam", value("poked"), options=quick),
    ]
    http = [
        Probe("well behaved", "http", "ok", value("poked"), options=quick),
        Probe(
            "hang in tools/call", "http", "hang_call", fails("timed out", "timeout"), options=quick
        ),
        Probe(
            "hang in initialize",
            "http",
            "hang_initialize",
            refused("did not answer within 1s"),
            options={"connect_timeout": 1.0},
        ),
        Probe("huge answer (40 MiB)", "http", "huge", fails("max_result_bytes"), HUGE),
        Probe("malformed response", "http", "malformed", fails("JSON"), options=quick),
        Probe(
            "response for another id",
            "http",
            "wrong_id",
            fails("timed out", "timeout"),
            options=quick,
        ),
        Probe(
            "drops the connection mid-call", "http", "crash", fails("error response"), options=quick
        ),
        Probe("no capabilities", "http", "no_caps", no_tools),
        Probe("template tokens and control chars", "http", "templates", value(HOSTILE_TEXT)),
        Probe("error result", "http", "tool_error", fails("the poke was refused")),
        Probe("hostile tool list", "http", "hostile_list", sane_list, plan=hostile_plan),
        Probe("3 MiB answer as an event", "http", "sse", value("x" * 3 * MiB), 3 * MiB),
        Probe("20 MiB answer as an event", "http", "sse", fails("max_result_bytes"), 20 * MiB),
        Probe(
            "SDK server, 17 MiB answer",
            "sdk",
            "",
            fails("max_result_bytes", serves_on=False),
            plan=BIG,
        ),
    ]
    time_plan = '1. get_current_time(timezone="Asia/Tokyo")\njoin()\n<END_OF_PLAN>'
    third_party = [Probe("reference time server (PyPI)", "time", "", tokyo, plan=time_plan)]
    return stdio + http + third_party


@asynccontextmanager
async def opened(probe: Probe, marker: str) -> AsyncIterator[MCPSource]:
    """The probe's source (not yet open), its server running for the block."""
    env = {"TOOLWEAVE_PROBE": marker}  # how its processes are found afterwards
    if probe.transport == "stdio":
        argv = [sys.executable, mcp_hostile.__file__, probe.scenario, str(probe.size or HUGE)]
        yield MCPSource.stdio(argv, env=env, **probe.options)
    elif probe.transport == "time":
        yield MCPSource.stdio([sys.executable, "-m", "mcp_server_time"], env=env)
    else:
        if probe.transport == "sdk":
            app: Any = mcp_server.build().streamable_http_app()
        else:
            app = mcp_hostile.app(probe.scenario, probe.size or HUGE)
        async with serve_http(app, force=True) as base:
            yield MCPSource.http(f"{base}/mcp", **probe.options)


async def run_probe(probe: Probe, stats: Stats) -> Outcome:
    """Run one probe: its plan through an agent, bounded, then the checks."""
    marker = f"probe-{uuid.uuid4().hex}"
    ran = Ran()
    started = time.monotonic()
    try:
        async with asyncio.timeout(BOUND * 3), opened(probe, marker) as source:
            ran.source = source
            model = ScriptedModel([probe.plan, FINISH])
            async with Agent(model, [source], time_limit=BACKSTOP) as agent:
                ran.offered = [t.name for t in source.tools]
                ran.deadlines = [t.timeout for t in source.tools]
                ran.before = await _echo(source, "before")
                try:
                    ran.result = await agent.run("poke the server")
                except ToolweaveError as exc:
                    ran.error, ran.result = exc, exc.result
                ran.after = await _echo(source, "after")
    except Exception as exc:  # every failure is an outcome to report
        ran.error = exc
    seconds = time.monotonic() - started
    problem = probe.check(ran, stats)
    if problem is None and seconds > BOUND:
        problem = f"took {seconds:.1f}s, over the bound of {BOUND:g}s"
    if problem is None:
        problem = foreign_errors(ran)
    if problem is None and (left := await _left_behind(marker)):
        problem = f"{left} server process(es) left behind"
    detail = problem or said(ran)
    name = f"{probe.transport} {probe.name}"
    return Outcome(name, problem is None, seconds, detail)


async def _echo(source: MCPSource, text: str) -> object:
    tools = {t.name: t for t in source.tools}
    if "echo" not in tools:
        return None
    try:
        return await LocalExecutor().run(tools["echo"], {"text": text})
    except ToolError as exc:
        return exc


async def _left_behind(marker: str, grace: float = 3.0) -> int:
    """How many processes started with `marker` in their environment are still alive."""
    deadline = time.monotonic() + grace
    while (alive := _alive(marker)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # no event tells when the kernel has reaped a process
    return alive


def _alive(marker: str) -> int:
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: nothing to look at
        return 0
    alive = 0
    for entry in proc.iterdir():
        try:
            alive += marker.encode() in (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
    return alive


async def campaign() -> Stats:
    """Every probe, one after the other; the time server's only where it is installed."""
    stats = Stats()
    for probe in probes():
        if probe.transport == "time" and importlib.util.find_spec("mcp_server_time") is None:
            stats.skipped.append(f"{probe.name}: pip install mcp-server-time")
            continue
        stats.inputs += 1
        outcome = await run_probe(probe, stats)
        stats.outcomes.append(outcome)
        if not outcome.ok:
            stats.violations.append(f"{outcome.name}: {outcome.detail}")
    return stats


def report(stats: Stats) -> list[str]:
    """The campaign's section of the fault report, in Markdown."""
    lines = [
        "## Hostile MCP servers",
        "",
        f"A scripted hostile MCP server (tests/support/mcp_hostile.py) over stdio and streamable "
        f"HTTP, and the reference time server; sources with call_timeout={DEADLINE:g}s "
        "where a probe waits on a deadline, the default 16 MiB max_result_bytes, an agent "
        f"with time_limit={BACKSTOP:g}s. Each probe must end within {BOUND:g}s with a "
        "clear error or the right value, every failed task with a ToolError, and leave "
        "no server process behind.",
        "",
        *table(stats.outcomes),
    ]
    lines += [
        "",
        f"- inputs tried: {stats.inputs}"
        + (f" (skipped: {'; '.join(stats.skipped)})" if stats.skipped else ""),
        f"- timed out: {stats.timeouts}; stopped at the cap: {stats.capped}; refused at "
        f"connect: {stats.refused}; answered: {stats.answered}",
        f"- defects found (on the code before issue 29): {len(DEFECTS_FOUND)}",
        *(f"  - {defect}" for defect in DEFECTS_FOUND),
        f"- defects left: {len(stats.violations)}",
        *(f"  - {violation}" for violation in stats.violations),
    ]
    return lines


def main() -> int:
    stats = asyncio.run(campaign())
    print("\n".join(report(stats)))
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
