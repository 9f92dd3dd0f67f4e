"""What OpenTelemetry spans cost a run, against the same run without them.

One agent run with a scripted model (no model latency) and a plan of N no-op tasks, in
three settings measured in the same process: opentelemetry not installed (simulated by
hiding the package), installed with no tracer provider (the API's default), and the
SDK recording every span to an in-memory exporter. Reports the median wall time per
run and the ratios to the first.

Usage: python benchmarks/telemetry.py [--tasks 200] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from toolweave import Agent, tool
from toolweave.models.testing import ScriptedModel


@tool(read_only=True)
async def noop(n: int) -> int:
    """Return n."""
    return n


def plan(tasks: int) -> str:
    lines = [f"{i}. noop(n={i})" for i in range(1, tasks + 1)]
    return "\n".join([*lines, "join()", "<END_OF_PLAN>"])


async def once(tasks: int, provider: TracerProvider | None) -> float:
    model = ScriptedModel([plan(tasks), "Action: Finish(done)"], chunk_size=4096)
    agent = Agent(model, [noop], max_tasks=tasks + 1, tracer_provider=provider)
    start = time.perf_counter()
    await agent.run("go")
    elapsed = time.perf_counter() - start
    agent.close()
    return elapsed


async def median(tasks: int, repeat: int, provider: TracerProvider | None) -> float:
    await once(tasks, provider)  # warm up
    return statistics.median([await once(tasks, provider) for _ in range(repeat)])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    exporter = InMemorySpanExporter()
    sdk = TracerProvider()
    sdk.add_span_processor(SimpleSpanProcessor(exporter))

    module = sys.modules.pop("opentelemetry")
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    absent = await median(args.tasks, args.repeat, None)
    sys.modules["opentelemetry"] = module
    no_provider = await median(args.tasks, args.repeat, None)
    recording = await median(args.tasks, args.repeat, sdk)
    spans = len(exporter.get_finished_spans()) // (args.repeat + 1)
    print(f"{args.tasks} no-op tasks a run, median of {args.repeat} runs")
    print(f"  opentelemetry absent:        {absent * 1e3:7.2f} ms  1.00x")
    print(
        f"  installed, no provider:      {no_provider * 1e3:7.2f} ms  {no_provider / absent:.2f}x"
    )
    print(
        f"  SDK, in-memory exporter:     {recording * 1e3:7.2f} ms  {recording / absent:.2f}x"
        f"  ({spans} spans a run, {(recording - absent) / spans * 1e6:.1f} µs a span)"
    )


if __name__ == "__main__":
    asyncio.run(main())
