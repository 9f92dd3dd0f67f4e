"""OpenTelemetry spans under the GenAI semantic conventions, via the SDK's memory exporter."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import deque
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from support.openai_server import OpenAIServer, Reply

from toolweave import Agent, ToolRegistry, ToolweaveError, tool
from toolweave.models.testing import ScriptedModel
from toolweave.redaction import REDACTED, register_secret

POPULATION = {"France": 68, "Italy": 59}


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country, in millions."""
    return POPULATION[country]


@tool(read_only=True)
def calculator(expression: str) -> float:
    """Add numbers written as 'a + b'."""
    return float(sum(float(x) for x in expression.split("+")))


TOOLS = ToolRegistry([population, calculator])

PLAN = """1. population(country="France")
2. population(country="Atlantis")
3. calculator(expression="$1 + $2")
4. calculator(expression="$1 + 1")
join()
<END_OF_PLAN>"""


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


async def test_spans_for_a_plan_with_a_failure(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    model = ScriptedModel([PLAN, "Action: Finish(France has 68 million; Atlantis is unknown.)"])
    agent = Agent(model, TOOLS, tracer_provider=provider)
    result = await agent.run("France and Atlantis together?")
    spans = exporter.get_finished_spans()
    names = _by_name(spans)
    assert sorted(names) == [
        "chat scripted",
        "execute_tool calculator",
        "execute_tool population",
        "invoke_agent toolweave",
    ]
    (run,) = names["invoke_agent toolweave"]
    assert run.parent is None
    assert run.attributes is not None
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.request.model"] == "scripted"
    assert run.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert run.attributes["toolweave.run.id"] == result.run_id
    run_id = run.context.span_id
    assert {s.context.trace_id for s in spans} == {run.context.trace_id}

    planner, joiner = names["chat scripted"]
    for span, call in ((planner, result.calls[0]), (joiner, result.calls[1])):
        assert span.parent is not None
        assert span.parent.span_id == run_id
        assert span.attributes is not None
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.request.model"] == "scripted"
        assert span.attributes["gen_ai.usage.input_tokens"] == call.usage.prompt_tokens
        assert span.attributes["gen_ai.usage.output_tokens"] == call.usage.completion_tokens
        assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == 0
    assert planner.attributes is not None
    assert joiner.attributes is not None
    assert (planner.attributes["toolweave.role"], joiner.attributes["toolweave.role"]) == (
        "planner",
        "joiner",
    )

    tools = {
        s.attributes["gen_ai.tool.call.id"]: s
        for s in spans
        if s.attributes is not None and s.attributes.get("gen_ai.operation.name") == "execute_tool"
    }
    assert sorted(tools) == ["1", "2", "4"]  # task 3 was skipped: it never ran
    for call_id, span in tools.items():
        assert span.parent is not None
        assert span.parent.span_id == run_id
        assert span.attributes is not None
        tool_name = result.tasks[int(call_id)].task.tool
        assert span.attributes["gen_ai.tool.name"] == tool_name
    failed = tools["2"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "exception"
    assert [e.name for e in failed.events] == ["exception"]
    assert tools["1"].status.status_code is StatusCode.UNSET
    # the data flow: task 4 took task 1's value
    assert [link.context.span_id for link in tools["4"].links] == [tools["1"].context.span_id]
    # spans carry the tasks' real times
    record = result.tasks[1]
    assert record.duration is not None
    assert tools["1"].end_time is not None
    assert tools["1"].start_time is not None
    assert (tools["1"].end_time - tools["1"].start_time) / 1e9 == pytest.approx(
        record.duration, abs=1e-3
    )


async def test_a_retrieval_span(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    model = ScriptedModel(['1. population(country="Italy")\njoin()\n', "Action: Finish(59)"])
    agent = Agent(model, TOOLS, tracer_provider=provider, retrieve_above=1, decompose=False)
    await agent.run("How many people live in Italy?")
    (span,) = _by_name(exporter.get_finished_spans())["retrieve_tools"]
    assert span.attributes is not None
    assert "population" in list(span.attributes["toolweave.retrieval.tools"])


async def test_no_spans_without_a_provider_and_none_without_opentelemetry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = Agent(ScriptedModel([]), TOOLS)
    assert agent.telemetry is not None
    # the API's default provider: nothing made
    assert agent.telemetry.recorder("scripted", "scripted") is None
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if it were not installed
    bare = Agent(
        ScriptedModel(['1. population(country="Italy")\njoin()\n', "Action: Finish(59)"]), TOOLS
    )
    assert bare.telemetry is None
    assert (await bare.run("Italy?")).answer == "59"


@pytest.mark.slow  # the CLI, as a process
async def test_trace_console_prints_the_spans(tmp_path: Path) -> None:
    plan = '1. capital(country="France")\njoin()\n<END_OF_PLAN>'
    async with OpenAIServer(deque([Reply(plan), Reply("Action: Finish(Paris)")])) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "toolweave",
            "run",
            "Capital of France?",
            "--model",
            f"openai:scripted@{server.base_url}",
            "--trace-console",
            env={**os.environ, "TOOLWEAVE_STATE": str(tmp_path)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text
    assert '"name": "execute_tool capital"' in text
    assert '"name": "chat scripted"' in text
    assert '"gen_ai.provider.name": "openai"' in text
    assert '"name": "invoke_agent toolweave"' in text
    assert "Paris" in text


SECRETS = [
    "qkey12345",
    "qtok98765",
    "hunter2pw",
    "reg-span-7e6d5c4b",
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
]


@tool(read_only=True)
def fetch(url: str) -> str:
    """Fetch a URL."""
    raise RuntimeError(f"GET {url}?key=qkey12345&token=qtok98765 failed (pw=hunter2pw)")


async def test_spans_keep_no_secret(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A failed call's exception text, the query, the run's error: all redacted."""
    register_secret("reg-span-7e6d5c4b")
    plan = '1. fetch(url="https://maps.example.com/v1")\njoin()\n<END_OF_PLAN>'
    model = ScriptedModel([plan, "Action: Replan(try again)", plan])
    agent = Agent(
        model, [fetch], tracer_provider=provider, retrieve_above=0, decompose=False, max_replans=1
    )
    with pytest.raises(ToolweaveError):
        await agent.run(
            "fetch it with reg-span-7e6d5c4b and AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
        )
    spans = exporter.get_finished_spans()
    text = "\n".join(span.to_json() for span in spans)
    assert [s for s in SECRETS if s in text] == []
    failed = next(s for s in spans if s.name == "execute_tool fetch")
    assert failed.status.status_code is StatusCode.ERROR
    (event,) = failed.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "toolweave.errors.ToolError"
    assert "maps.example.com" in str(event.attributes["exception.message"])
    assert REDACTED in str(event.attributes["exception.message"])
    assert "Traceback" in str(event.attributes["exception.stacktrace"])
    (retrieval,) = _by_name(spans)["retrieve_tools"]
    assert retrieval.attributes is not None
    assert retrieval.attributes["toolweave.retrieval.query"] == (
        f"fetch it with {REDACTED} and {REDACTED}"
    )
    (run,) = _by_name(spans)["invoke_agent toolweave"]
    assert run.status.status_code is StatusCode.ERROR
