"""Fault campaign, part 4: hostile HTTP services behind an OpenAPI spec, on loopback.

The service (tests/support/hostile_http.py) drips, stalls before its headers, floods (a huge
body, an endless chunked one, a gzip bomb, huge headers), lies (a wrong content type,
invalid JSON), redirects (in a loop, to another origin), fails (a 500 storm, a reset
mid-body); the tools' arguments carry path traversal attempts and line breaks, fixed
ones and random ones. Each probe calls an `OpenAPISource` tool through the executor (a
few through an Agent with a scripted plan) and checks: the call ends within a bound
with a value or a clear `ToolError`, the memory it took stays bounded, every request
the service got is on one of the spec's paths (one segment per path parameter), the
other origin got nothing, and what the probe expects (a timeout, the size cap, an
invalid-arguments error with nothing sent).

Usage: python benchmarks/faults_http.py [--paths 300] [--headers 150] [--queries 50]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import random
import re
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # hostile_http

import tenacity
from probes import Outcome, table
from support.hostile_http import SPEC, TOKEN, Hostile, serve

from toolweave import Agent, LocalExecutor, ToolError, ToolRegistry, UserError
from toolweave.models.testing import ScriptedModel
from toolweave.sources import OpenAPISource

TOKEN_ENV = "TOOLWEAVE_FAULTS_HTTP_TOKEN"
MiB = 1024 * 1024
CALL_TIMEOUT = 1.0  # seconds for one exchange
CAP = 4 * MiB  # bytes of one answer
RETRIES = 1
BOUND = CALL_TIMEOUT * (1 + RETRIES) + 3.0  # seconds: a probe that takes longer hangs
MEMORY = 3 * CAP + 8 * MiB  # bytes a probe may take at its peak (the body, decoded, parsed)
FINISH = "Thought: done.\nAction: Finish(ok)"
PIECES = ["/", ".", "..", "%", "%2e", "%2F", "?", "#", "\\", "\r", "\n", "\x00", "\t", " ",
          "é", "{name}", "~", ";", "&x=1", "a", "etc", "passwd", "//", "%00"]  # fmt: skip
HEADER_PIECES = ["a", " ", "\t", "\r", "\n", "\r\n", "\x00", "\x7f", "é", "X-Evil: 1", ":"]

# the defects this campaign caught on the code before issue 29 (items 6 and 7), found by
# running it there (the limits left out where the source did not take them)
DEFECTS_FOUND = [
    "drip-feed: the call never ended (the timeout bounded each read, not the call)",
    "stall before headers: the call held for the read timeout (30 s), then again on retry",
    "endless chunked body: read without end, the memory growing all the while",
    "huge body, gzip bomb: read whole (150 MiB of memory for 50 MiB)",
    "path parameter '..': the request went to the parent collection (/api), with the "
    "bearer token; '.', '' and a nested '..' also left the spec's paths",
    "CR/LF or a control character in a header parameter: a ConnectionError, retried "
    "(2 attempts), not invalid arguments; a non-ASCII one: a bare UnicodeEncodeError",
    "a spec URL that drip-feeds: opening the source never ended",
    "invalid JSON and redirects: unclear messages (a bare JSONDecodeError; 'HTTP 302 "
    "Found' without saying the redirect was not followed, nor where to)",
]


@dataclass
class Call:
    """What one probe's call did."""

    value: object = None
    error: BaseException | None = None
    seconds: float = 0.0
    peak: int = 0
    paths: list[str] = field(default_factory=list)  # what the service got (API paths)


Expect = Callable[[Call], str | None]


@dataclass(frozen=True)
class Probe:
    """One hostile input: an operation, its arguments, what must come of it."""

    name: str
    operation: str
    args: dict[str, object]
    expect: Expect
    via: str = "executor"  # or "agent": a scripted plan calls the tool


@dataclass
class Stats:
    """What the campaign tried and found."""

    inputs: int = 0
    generated: int = 0
    refused_unsent: int = 0
    timeouts: int = 0
    capped: int = 0
    answered: int = 0
    peak: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


# -- expectations ---------------------------------------------------------------------


def _tool_error(call: Call) -> ToolError | None:
    return call.error if isinstance(call.error, ToolError) else None


def failed(words: str = "", kind: str | None = None) -> Expect:
    """A ToolError saying `words` (of `kind`, if given)."""

    def check(call: Call) -> str | None:
        error = _tool_error(call)
        if error is None or words not in error.message or kind not in (None, error.kind):
            of_kind = f" of kind {kind}" if kind else ""
            return f"expected a ToolError{of_kind} saying {words!r}, got {call.error!r}"
        return None

    return check


def refused_unsent(call: Call) -> str | None:
    """The caller's error: invalid arguments, one attempt, no request at all."""
    error = _tool_error(call)
    if error is None or error.kind != "invalid_arguments" or error.attempts != 1:
        return f"expected invalid_arguments in one attempt, got {call.error!r}"
    return f"sent {call.paths} anyway" if call.paths else None


def one_segment(value: str) -> Expect:
    """A dot segment or an empty one refused unsent; anything else sent as one segment."""

    def check(call: Call) -> str | None:
        if value in ("", ".", ".."):
            return refused_unsent(call)
        if call.error is not None:
            return f"expected the file, got {call.error!r}"
        segments = [p.split("?")[0].removeprefix("/api/files/") for p in call.paths]
        if [unquote(s) for s in segments] != [value] or "/" in segments[0]:
            return f"sent {call.paths} for {value!r}"
        return None

    return check


def sendable_header(value: str) -> Expect:
    """Sent (trimmed) when a header can carry it; else refused unsent."""
    trimmed = value.strip(" \t")
    if re.fullmatch(r"[\t\x20-\x7e]*", trimmed):
        return lambda call: None if call.value == trimmed else f"got {call.value!r} back"
    return refused_unsent


def echoed_query(value: str) -> Expect:
    """The query parameter arrived whole, in one request."""
    return lambda call: (
        None if call.value == {"q": [value]} and len(call.paths) == 1 else f"got {call.value!r}"
    )


# -- probes ---------------------------------------------------------------------------


def probes(paths: int = 300, headers: int = 150, queries: int = 50, seed: int = 0) -> list[Probe]:
    """The fixed probes, then `paths` + `headers` + `queries` random ones."""
    fixed = [
        Probe("drip-feed (a byte every 0.5 s)", "dripFeed", {}, failed(kind="timeout")),
        Probe("stall before headers", "stall", {}, failed(kind="timeout")),
        Probe("huge body (50 MiB)", "hugeBody", {}, failed("larger than 4 MiB")),
        Probe("endless chunked body", "endlessChunks", {}, failed("larger than 4 MiB")),
        Probe("gzip bomb (50 MiB inflated)", "gzipBomb", {}, failed("larger than 4 MiB")),
        Probe("huge headers (1 MB)", "hugeHeaders", {}, failed()),
        Probe("wrong content-type", "wrongType", {}, lambda c: _is_text(c.value)),
        Probe("invalid JSON", "badJson", {}, failed("not valid JSON")),
        Probe("JSON nested 200,000 deep", "deepJson", {}, failed("nested too deeply")),
        Probe("redirect loop", "redirectLoop", {}, failed("HTTP 302")),
        Probe("redirect to another origin", "redirectAway", {}, failed("not followed")),
        Probe("500 storm (120 KB body)", "serverError", {}, _short_500),
        Probe("connection reset mid-body", "resetMidBody", {}, failed()),
        *(
            Probe(f"path parameter {value!r}", "getFile", {"name": value}, one_segment(value))
            for value in ["..", ".", "", "%2e%2e", "a/../b", "/etc/passwd", "?x=1", "#frag"]
        ),
        Probe(
            "nested path parameter '..'",
            "getNestedFile",
            {"folder": "..", "name": "passwd"},
            refused_unsent,
        ),
        Probe("CR/LF in a header", "note", {"X_Note": "a\r\nX-Evil: 1"}, refused_unsent),
        Probe(
            "CR/LF in a query", "search", {"q": "a\r\nX-Evil: 1"}, echoed_query("a\r\nX-Evil: 1")
        ),
        Probe("plan: getFile(name='..')", "getFile", {"name": ".."}, refused_unsent, "agent"),
        Probe("plan: CR/LF in a header", "note", {"X_Note": "x\r\ny"}, refused_unsent, "agent"),
    ]
    rng = random.Random(seed)

    def text(pieces: list[str]) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))

    generated = [
        *(Probe(f"random path {i}", "getFile", {"name": v}, one_segment(v))
          for i, v in enumerate(text(PIECES) for _ in range(paths))),
        *(Probe(f"random header {i}", "note", {"X_Note": v}, sendable_header(v))
          for i, v in enumerate(text(HEADER_PIECES) for _ in range(headers))),
        *(Probe(f"random query {i}", "search", {"q": v}, echoed_query(v))
          for i, v in enumerate(text(PIECES + HEADER_PIECES) for _ in range(queries))),
    ]  # fmt: skip
    return fixed + generated


def _is_text(value: object) -> str | None:
    return None if isinstance(value, str) else f"got {value!r}"


def _short_500(call: Call) -> str | None:
    error = _tool_error(call)
    if error is None or "HTTP 500" not in error.message:
        return f"expected HTTP 500, got {call.error!r}"
    return None if len(error.message) < 400 else f"a {len(error.message)}-character message"


# -- running --------------------------------------------------------------------------

_TEMPLATES = [
    re.compile("/api" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
    for path in SPEC["paths"]
]


def _outside(paths: list[str]) -> list[str]:
    """The requested paths that are on none of the spec's paths."""
    return [p for p in paths if not any(t.fullmatch(p.split("?")[0]) for t in _TEMPLATES)]


def _source(hostile: Hostile) -> OpenAPISource:
    limits: dict[str, float] = {"call_timeout": CALL_TIMEOUT, "max_response_bytes": CAP}
    taken = inspect.signature(OpenAPISource).parameters  # older code: without the limits
    return OpenAPISource(
        f"{hostile.url}/openapi.json",
        bearer_env=TOKEN_ENV,
        retries=RETRIES,
        **{k: v for k, v in limits.items() if k in taken},  # type: ignore[arg-type]
    )


async def _call(probe: Probe, tools: ToolRegistry, executor: LocalExecutor) -> object:
    if probe.via == "executor":
        return await executor.run(tools[probe.operation], probe.args)
    args = ", ".join(f"{k}={v!r}" for k, v in probe.args.items())
    plan = f"1. {probe.operation}({args})\njoin()\n<END_OF_PLAN>"
    agent = Agent(ScriptedModel([plan, FINISH]), tools, max_replans=0)
    try:
        record = (await agent.run("fetch it")).tasks[1]
    finally:
        agent.close()
    if record.error is not None:
        raise record.error
    return record.value


async def run_probe(
    probe: Probe, hostile: Hostile, tools: ToolRegistry, executor: LocalExecutor
) -> Call:
    """One probe, measured: its time, its peak memory, the paths the service got."""
    hostile.seen.requests.clear()
    result = Call()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(BOUND):
            result.value = await _call(probe, tools, executor)
    except Exception as exc:
        result.error = exc
    result.seconds = time.perf_counter() - started
    result.peak = max(tracemalloc.get_traced_memory()[1] - before, 0)
    result.paths = [p for p in hostile.seen.paths if p != "/openapi.json"]
    return result


def _violation(probe: Probe, call: Call, hostile: Hostile) -> str | None:
    if isinstance(call.error, TimeoutError) or call.seconds >= BOUND:
        return f"no end within {BOUND:g}s"
    if call.error is not None and not isinstance(call.error, ToolError):
        return f"not a ToolError: {call.error!r}"
    if call.peak > MEMORY:
        return f"took {call.peak / MiB:.0f} MiB of memory"
    if outside := _outside(call.paths):
        return f"requests outside the spec's paths: {outside}"
    if hostile.other_seen.requests:
        return f"the other origin got {hostile.other_seen.requests}"
    return probe.expect(call)


async def _spec_probe(hostile: Hostile) -> Outcome:
    """The spec itself from a dripping URL: opening the source must end too."""
    started = time.perf_counter()
    source = OpenAPISource(f"{hostile.url}/api/drip", **_limits_taken())  # type: ignore[arg-type]
    error: BaseException | None = None
    try:
        async with asyncio.timeout(BOUND):
            await source.open()
    except Exception as exc:
        error = exc
    finally:
        await source.aclose()
    ok = isinstance(error, UserError)
    detail = f"UserError: {error}" if ok else f"expected a UserError, got {error!r}"
    return Outcome("spec URL drip-feeds", ok, time.perf_counter() - started, detail)


def _limits_taken() -> dict[str, float]:
    taken = inspect.signature(OpenAPISource).parameters
    return {k: v for k, v in (("call_timeout", CALL_TIMEOUT),) if k in taken}


async def campaign(paths: int = 300, headers: int = 150, queries: int = 50) -> Stats:
    """Every probe against one hostile service, one after the other."""
    stats = Stats()
    chosen = probes(paths, headers, queries)
    stats.generated = paths + headers + queries
    os.environ[TOKEN_ENV] = TOKEN
    tracemalloc.start()
    try:
        with serve() as hostile:
            retry = tenacity.wait_fixed(0.01)
            async with (
                ToolRegistry([_source(hostile)]) as tools,
                LocalExecutor(retry_wait=retry) as executor,
            ):
                for probe in chosen:
                    call = await run_probe(probe, hostile, tools, executor)
                    _count(stats, probe, call, _violation(probe, call, hostile))
            outcome = await _spec_probe(hostile)
            stats.inputs += 1
            stats.outcomes.append(outcome)
            if not outcome.ok:
                stats.violations.append(f"{outcome.name}: {outcome.detail}")
    finally:
        tracemalloc.stop()
        os.environ.pop(TOKEN_ENV, None)
    return stats


def _count(stats: Stats, probe: Probe, call: Call, problem: str | None) -> None:
    stats.inputs += 1
    stats.peak = max(stats.peak, call.peak)
    error = _tool_error(call)
    if error is None and call.error is None:
        stats.answered += 1
    elif error is not None and error.kind == "invalid_arguments" and not call.paths:
        stats.refused_unsent += 1
    elif error is not None and error.kind == "timeout":
        stats.timeouts += 1
    elif error is not None and "larger than" in error.message:
        stats.capped += 1
    if problem is not None:
        stats.violations.append(f"{probe.name}: {problem}")
    if problem is not None or not probe.name.startswith("random"):
        what = repr(call.error) if call.error is not None else f"value {call.value!r}"
        stats.outcomes.append(
            Outcome(probe.name, problem is None, call.seconds, problem or what[:120])
        )


def report(stats: Stats) -> list[str]:
    """The campaign's section of the fault report, in Markdown."""
    lines = [
        "## Hostile HTTP services",
        "",
        f"An `OpenAPISource` (call_timeout={CALL_TIMEOUT:g}s, "
        f"max_response_bytes={CAP // MiB} MiB, retries={RETRIES}) against a hostile "
        f"loopback service; each probe must end within {BOUND:g}s with a value or a "
        f"ToolError, take under {MEMORY // MiB} MiB, and send nothing outside the spec's "
        "paths or to another origin. Random probes are listed only when they fail.",
        "",
        *table(stats.outcomes, width=400),
    ]
    lines += [
        "",
        f"- inputs tried: {stats.inputs} ({stats.generated} of them random path, header "
        "and query values)",
        f"- refused unsent: {stats.refused_unsent}; timed out: {stats.timeouts}; "
        f"stopped at the cap: {stats.capped}; answered: {stats.answered}",
        f"- peak memory of one probe: {stats.peak / MiB:.1f} MiB",
        f"- defects found (on the code before issue 29): {len(DEFECTS_FOUND)}",
        *(f"  - {defect}" for defect in DEFECTS_FOUND),
        f"- defects left: {len(stats.violations)}",
        *(f"  - {violation}" for violation in stats.violations),
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, default=300)
    parser.add_argument("--headers", type=int, default=150)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    stats = asyncio.run(campaign(args.paths, args.headers, args.queries))
    print("\n".join(report(stats)))
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
