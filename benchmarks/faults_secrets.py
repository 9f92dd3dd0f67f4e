"""Fault campaign, state, part 2: secrets planted everywhere, every sink read back.

Driven by faults_state.py (see there). Each secret of `CORPUS` (every key shape,
registered values, environment values, and secrets that only their context gives
away: ``pw=``, a URL's password, ``?key=``) is planted in each of `PLACES` in one run
with a ScriptedModel, in a conversation, with a tracer provider; `probe` then reads
back the run log's rows, the session store's rows, the spans (the SDK's in-memory
exporter) and ``RunResult.to_json(redact=True)`` where it exists, and says where the
secret leaked.
"""

from __future__ import annotations

import inspect
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from toolweave import Agent, RunResult, Tool, tool
from toolweave.cli._runlog import RunLog
from toolweave.models.testing import ScriptedModel

try:
    from toolweave.redaction import redact_value, register_secret
except ImportError:  # the code before one redaction mechanism: nothing to register with
    redact_value = None  # type: ignore[assignment]

    def register_secret(value: str | None) -> None:
        """Absent before: a registered secret is not hidden anywhere."""


REGISTERED = "reg-7Hq2-opaque-api-key-91"  # given to a model or a source
ENV_NAME, ENV_VALUE = "ACME_SERVICE_TOKEN", "env-5Kd9-opaque-token-37"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYW1wYWlnbiJ9"
    ".Qm9ndXNTaWduYXR1cmVGb3JUaGVDYW1wYWlnbjAx"
)
PEM_BODY = "MIIEowIBAAKCAQEAcampaignBodyLine0123456789abcdefXYZ"
BASIC = "Y2FtcGFpZ246YmFzaWMtcHctNzc="  # campaign:basic-pw-77

# (probe, the text that carries the secret, the secret, a secret field's name or None)
CORPUS: list[tuple[str, str, str, str | None]] = [
    (
        "OpenAI key",
        "sk-proj-Zx81campaignKeyAbCdEf012345",
        "sk-proj-Zx81campaignKeyAbCdEf012345",
        None,
    ),
    (
        "GitHub token",
        "ghp_CampaignToken0123456789abcdefABCD",
        "ghp_CampaignToken0123456789abcdefABCD",
        None,
    ),
    (
        "GitHub PAT",
        "github_pat_11CAMPAIGN0_abcdefghijklmnopqrstu",
        "github_pat_11CAMPAIGN0_abcdefghijklmnopqrstu",
        None,
    ),
    (
        "Slack token",
        "xoxb-2024-1234567890-CampaignSlackTok",
        "xoxb-2024-1234567890-CampaignSlackTok",
        None,
    ),
    ("AWS key id", "AKIACAMPAIGN0123ABCD", "AKIACAMPAIGN0123ABCD", None),
    (
        "Google key",
        "AIzaSyCampaign-0123456789abcdefghijklmn",
        "AIzaSyCampaign-0123456789abcdefghijklmn",
        None,
    ),
    ("JWT", JWT, JWT, None),
    (
        "private key block",
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
        PEM_BODY,
        None,
    ),
    ("registered value", f"the key is {REGISTERED}", REGISTERED, None),
    ("environment value", f"using {ENV_VALUE}", ENV_VALUE, None),
    ("pw=", "login pw=Hq4campaignpw", "Hq4campaignpw", "pw"),
    ("pwd=", "pwd=Hq5campaignpwd", "Hq5campaignpwd", "pwd"),
    ("pass=", "pass=Hq6campaignpass", "Hq6campaignpass", "pass"),
    ("password=", 'password="Hq7 campaign pass phrase"', "Hq7 campaign pass phrase", "password"),
    ("key=", "key=Hq8campaignkey", "Hq8campaignkey", "key"),
    ("secret=", "secret=Hq9campaignsecret", "Hq9campaignsecret", "secret"),
    ("token=", "token=Hr0campaigntoken", "Hr0campaigntoken", "token"),
    ("api_key:", "api_key: Hr1campaignapikey", "Hr1campaignapikey", "api_key"),
    (
        "Bearer",
        "Authorization: Bearer Hr2campaign.bearer-tok",
        "Hr2campaign.bearer-tok",
        "authorization",
    ),
    ("Basic", f"Authorization: Basic {BASIC}", BASIC, None),
    (
        "URL password",
        "postgres://app:Hr3campaigndbpw@db.internal:5432/prod",
        "Hr3campaigndbpw",
        None,
    ),
    (
        "?key= in a URL",
        "GET https://maps.example.com/v1?key=Hr4campaignqkey&q=paris",
        "Hr4campaignqkey",
        None,
    ),
    (
        "&token= in a URL",
        "https://api.example.com/cb?code=1&token=Hr5campaignqtok",
        "Hr5campaignqtok",
        None,
    ),
]
PLACES = [
    "the request",
    "a tool's argument",
    "a tool's result",
    "a result's field",
    "a secret-named argument",
    "a failed call's exception",
    "the model's plan (its thought)",
    "the joiner's reply and the answer",
]
_PROBES = {name: (carrier, secret, name_) for name, carrier, secret, name_ in CORPUS}


@tool(read_only=True)
def note(text: str) -> str:
    """Keep a note; returns it."""
    return f"noted: {text}"


@tool(read_only=True)
def fields(probe: str) -> dict[str, str]:
    """A record with the probe's secret in a field."""
    carrier, secret, name = _PROBES[probe]
    return {name: secret, "status": "ok"} if name else {"note": carrier, "status": "ok"}


@tool(read_only=True)
def fail(probe: str) -> str:
    """Fail with the probe's secret in the exception's message."""
    raise RuntimeError(f"request failed: {_PROBES[probe][0]}")


def _login(**kwargs: str) -> str:
    return "logged in"


LOGIN = Tool.from_schema(
    "login",
    "Log in.",
    {
        "type": "object",
        "properties": {
            n: {"type": "string"}
            for n in ("pw", "pwd", "password", "key", "secret", "token", "api_key", "authorization")
        },
    },
    _login,
    read_only=True,
)


def _plan(probe: str) -> str:
    carrier, secret, name = _PROBES[probe]
    lines = [
        f"Thought: {' '.join(carrier.split())}",
        f"1. note(text={json.dumps(carrier)})",
        f"2. fields(probe={json.dumps(probe)})",
        f"3. fail(probe={json.dumps(probe)})",
    ]
    if name and name != "pass":  # `pass` cannot be written as an argument's name
        lines.append(f"4. login({name}={json.dumps(secret)})")
    return "\n".join([*lines, "join()", "<END_OF_PLAN>"])


def _sinks(tmp: Path, result: RunResult, exporter: InMemorySpanExporter) -> dict[str, str | None]:
    RunLog(tmp / "runs.sqlite").add(result, "scripted")
    dumps = {}
    for sink, file in (("run log", "runs.sqlite"), ("session store", "sessions.sqlite")):
        with sqlite3.connect(tmp / file) as db:
            dumps[sink] = "\n".join(db.iterdump())
    dumps["telemetry spans"] = "\n".join(s.to_json() for s in exporter.get_finished_spans())
    redactable = "redact" in inspect.signature(RunResult.to_json).parameters
    dumps["to_json(redact=True)"] = result.to_json(redact=True) if redactable else None  # type: ignore[call-arg]
    return dumps


SKIPPED = "to_json(redact=True) is absent: sink skipped"


def plant() -> None:
    """Make the registered and the environment secret known, as a real setup would."""
    register_secret(REGISTERED)
    os.environ[ENV_NAME] = ENV_VALUE


async def probe(name: str) -> tuple[list[str], list[str]]:
    """Plant secret `name` everywhere, run, read the sinks: (sinks read, sinks it leaked to)."""
    carrier, secret, _ = _PROBES[name]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flat = " ".join(carrier.split())
    model = ScriptedModel([_plan(name), f"Thought: saw {flat}\nAction: Finish(done: {flat})"])
    agent = Agent(model, [note, fields, fail, LOGIN], tracer_provider=provider)
    with tempfile.TemporaryDirectory() as tmp:
        chat = agent.session(store=Path(tmp) / "sessions.sqlite")
        result = await chat.run(f"please handle {carrier}")
        chat.store.close()
        agent.close()  # its worker threads: the campaign counts those left behind
        dumps = _sinks(Path(tmp), result, exporter)
    read = [sink for sink, text in dumps.items() if text is not None]
    return read, [sink for sink in read if secret in (dumps[sink] or "")]


# -- redaction's cost, and its absence without a sink


def _typical_result() -> RunResult:
    """Six lookups: two model calls, a plan, values, nothing secret."""
    countries = ["France", "Spain", "Italy", "Chile", "Peru", "Japan"]
    plan = "\n".join(
        f'{i}. note(text="population of {c} in 2024")' for i, c in enumerate(countries, 1)
    )
    answer = "Thought: " + "the lookups agree with the census figures. " * 8
    model = ScriptedModel(
        [f"Thought: six lookups.\n{plan}\njoin()\n<END_OF_PLAN>", f"{answer}\nAction: Finish(done)"]
    )
    agent = Agent(model, [note])
    try:
        return agent.run_sync("What are the populations of six countries?")
    finally:
        agent.close()


def redaction_cost(repeat: int = 300) -> tuple[float, str]:
    """Microseconds to redact a typical RunResult dict (the median of `repeat`), in words."""
    if redact_value is None:
        return 0.0, "no toolweave.redaction: redaction cost not measured"
    data = _typical_result().to_dict()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        redact_value(data)
        times.append(time.perf_counter() - started)
    micros = sorted(times)[len(times) // 2] * 1e6
    return micros, (
        f"redacting a typical RunResult dict ({len(json.dumps(data))} characters of JSON, "
        f"{len(data['tasks'])} tasks, {len(data['calls'])} model calls): "
        f"{micros:.0f} µs (median of {repeat})"
    )


def redactions_without_a_sink() -> int:
    """How often a run with no run log, session or tracer provider redacts (0 is right)."""
    import toolweave.redaction as redact

    calls = 0
    real = redact._known_pattern

    def counted() -> Any:
        nonlocal calls
        calls += 1
        return real()

    redact._known_pattern = counted  # type: ignore[assignment]  # every redaction asks it
    try:
        _typical_result()
    finally:
        redact._known_pattern = real  # type: ignore[assignment]
    return calls
