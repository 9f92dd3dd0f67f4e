"""OpenTelemetry spans for runs, under the GenAI semantic conventions, from the events.

With opentelemetry-api installed (the ``otel`` extra) and a tracer provider set (yours,
given to the `Agent` or set globally), each run makes:

```
invoke_agent toolweave              the run (a child of your current span, if any)
 +-- retrieve_tools                 the retriever's pick, when there is one
 +-- chat <model>                   each planner and joiner call: tokens, cached tokens
 +-- execute_tool <tool>            each task that ran, linked to the tasks it waited for
```

Task spans are children of the run's span, and the plan's data flow is in their links:
a task's span links to the spans of the tasks whose results it took (the DAG as it ran).
A failed task's span has status ERROR, the exception recorded and ``error.type``.

Nothing is made, and nothing is imported, when opentelemetry is absent; nothing is made
either while no tracer provider is set (the API's default does nothing).

Spans are a sink like the run log: every text that goes into one (the retrieval
query, a failed call's status, its exception's message and stack trace, the run's
error) is redacted by `toolweave.redaction` first.
"""

from __future__ import annotations

import importlib.util
import time
import traceback
from typing import TYPE_CHECKING

from toolweave.cost import cached_tokens
from toolweave.errors import UserError
from toolweave.events import (
    ApprovalRequested,
    Event,
    JoinDecided,
    PlanFinished,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolsRetrieved,
)
from toolweave.models import Usage
from toolweave.redaction import redact_text
from toolweave.version import __version__

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["SpanRecorder", "Telemetry", "console_provider"]


class Telemetry:
    """Where an agent's spans go: a tracer of the given (or the global) provider."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider

    @classmethod
    def create(cls, provider: TracerProvider | None = None) -> Telemetry | None:
        """`Telemetry` when opentelemetry-api is installed, else `None` (no cost)."""
        if provider is None and importlib.util.find_spec("opentelemetry") is None:
            return None
        return cls(provider)

    def recorder(self, planner_model: str, joiner_model: str) -> SpanRecorder | None:
        """A span maker for one run; `None` while no tracer provider is set.

        Args:
            planner_model: The name of the model that writes the plans.
            joiner_model: The name of the model that joins.
        """
        from opentelemetry import trace

        provider = self.provider or trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            return None
        tracer = provider.get_tracer("toolweave", __version__)
        return SpanRecorder(tracer, planner_model, joiner_model)


class SpanRecorder:
    """Turns one run's events into spans as they come."""

    def __init__(self, tracer: Tracer, planner_model: str, joiner_model: str) -> None:
        self._tracer = tracer
        self._models = {"planner": planner_model, "joiner": joiner_model}
        # perf_counter seconds -> epoch nanoseconds, as OpenTelemetry wants them
        self._offset = time.time_ns() - int(time.perf_counter() * 1e9)
        self._run: Span | None = None
        self._context: Context | None = None
        self._tasks: dict[int, Span] = {}
        self._ended: dict[int, Span] = {}

    def _ns(self, at: float) -> int:
        return int(at * 1e9) + self._offset

    def handle(self, event: Event) -> None:
        """Open, fill or close the spans `event` concerns."""
        from opentelemetry import trace

        if isinstance(event, RunStarted):
            self._run = self._tracer.start_span(
                "invoke_agent toolweave",
                start_time=self._ns(event.at),
                kind=trace.SpanKind.INTERNAL,
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "toolweave",
                    **_model(event.model),
                    "toolweave.run.id": event.run_id,
                },
            )
            self._context = trace.set_span_in_context(self._run)
        elif isinstance(event, ToolsRetrieved):
            span = self._tracer.start_span(
                "retrieve_tools",
                context=self._context,
                start_time=self._ns(event.at - event.duration),
                attributes={
                    "toolweave.retrieval.query": redact_text(event.query),
                    "toolweave.retrieval.tools": [hit.tool.name for hit in event.hits],
                },
            )
            span.end(self._ns(event.at))
        elif isinstance(event, PlanFinished | JoinDecided):
            self._chat(event)
        elif isinstance(event, TaskStarted):
            task = event.task
            links = [
                trace.Link(self._ended[dep].get_span_context())
                for dep in sorted(task.deps)
                if dep in self._ended
            ]
            self._tasks[task.id] = self._tracer.start_span(
                f"execute_tool {task.tool}",
                context=self._context,
                start_time=self._ns(event.at),
                links=links,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": task.tool,
                    "gen_ai.tool.call.id": str(task.id),
                    "gen_ai.tool.type": "function",
                    "toolweave.task.deps": [str(d) for d in sorted(task.deps)],
                },
            )
        elif isinstance(event, TaskSucceeded | TaskFailed | ApprovalRequested):
            if event.task.id not in self._tasks:
                return
            span = self._tasks.pop(event.task.id)
            if isinstance(event, TaskFailed):
                span.set_status(
                    trace.Status(trace.StatusCode.ERROR, redact_text(event.error.message))
                )
                span.set_attribute("error.type", event.error.kind)
                # not `record_exception`: it would put the raw message and traceback in
                span.add_event("exception", _exception(event.error), self._ns(event.at))
            elif isinstance(event, ApprovalRequested):
                span.set_attribute("toolweave.task.pending_approval", True)
            span.end(self._ns(event.at))
            self._ended[event.task.id] = span
        elif isinstance(event, RunFinished):
            self._finish(event)

    def _chat(self, event: PlanFinished | JoinDecided) -> None:
        role = "planner" if isinstance(event, PlanFinished) else "joiner"
        model = _model(self._models[role])
        span = self._tracer.start_span(
            f"chat {model['gen_ai.request.model']}",
            context=self._context,
            start_time=self._ns(event.at - event.duration),
            attributes={
                "gen_ai.operation.name": "chat",
                **model,
                "toolweave.role": role,
                **_usage(event.usage),
            },
        )
        span.end(self._ns(event.at))

    def _finish(self, event: RunFinished) -> None:
        from opentelemetry import trace

        result = event.result
        for span in self._tasks.values():  # calls cut short by the end of the run
            span.set_attribute("toolweave.task.state", "cancelled")
            span.end(self._ns(event.at))
        self._tasks.clear()
        if self._run is None:
            return
        self._run.set_attributes({**_usage(result.usage), "toolweave.run.status": result.status})
        if result.cost:
            self._run.set_attribute("toolweave.cost", result.cost)
        if result.status in ("failed", "budget_exceeded"):
            self._run.set_status(
                trace.Status(trace.StatusCode.ERROR, redact_text(result.error or ""))
            )
            self._run.set_attribute("error.type", result.status)
        self._run.end(self._ns(event.at))


def _model(name: str) -> dict[str, str]:
    """A model's name (``openai:gpt-4o``) as the conventions' model and provider."""
    provider, sep, model = name.partition(":")
    if not sep:
        return {"gen_ai.request.model": name}
    return {"gen_ai.request.model": model, "gen_ai.provider.name": provider}


def _exception(error: BaseException) -> dict[str, str]:
    """The semantic conventions' exception attributes, redacted."""
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return {
        "exception.type": name,
        "exception.message": redact_text(str(error)),
        "exception.stacktrace": redact_text("".join(traceback.format_exception(error))),
    }


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": cached_tokens(usage),
    }


def console_provider() -> TracerProvider:
    """A tracer provider that prints each span as JSON (``--trace-console``).

    Raises:
        UserError: The OpenTelemetry SDK is not installed.
    """
    try:
        from opentelemetry.sdk.trace import TracerProvider as SdkProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError as exc:
        raise UserError(
            "--trace-console needs the OpenTelemetry SDK: pip install opentelemetry-sdk"
        ) from exc
    provider = SdkProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    return provider
