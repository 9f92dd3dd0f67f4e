"""End-to-end latency of the agent against its floor, on a simulated endpoint.

The model is a `ScriptedModel` with a time to first token and a token rate, the tools
sleep for set latencies; every figure comes from one run's events. Two floors:

- the issue's floor: ``max(T_plan, TTFT + critical path) + T_join``;
- the streaming floor: each task can finish no sooner than
  ``max(its line's arrival, its inputs' finish) + its latency``; the run, no sooner
  than the last such finish plus ``T_join``. This one accounts for tasks whose line
  arrives late in the stream, which no scheduler can start earlier.

The same over a real HTTP stream (`OpenAIModel` against a loopback server, one plan
line a chunk): `latency_http.py`.

Usage: python benchmarks/latency.py
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from toolweave import Agent, PlanTask, ToolRegistry, tool
from toolweave.events import Event, PlanFinished, TaskPlanned
from toolweave.models.testing import ScriptedModel


@dataclass
class Scenario:
    name: str
    plan: str
    latency: dict[str, float]
    chunk_size: int = 4  # characters per streamed chunk: 4 is one token
    line_time: float = 0.15  # seconds per plan line (sets the token rate)
    ttft: float = 0.2


def fan_out(n: int) -> str:
    lines = [f'{i}. search(query="movie {i}")' for i in range(1, n + 1)]
    return "\n".join([*lines, "join()", "<END_OF_PLAN>"])


PARALLELQA = "\n".join(
    [
        "Thought: four independent lookups, then arithmetic over them.",
        '1. search(query="height of the Eiffel Tower")',
        '2. search(query="height of the Statue of Liberty")',
        '3. search(query="height of Big Ben")',
        '4. search(query="height of the Space Needle")',
        '5. math(expression="$1 + $2")',
        '6. math(expression="$5 - $3 + $4")',
        "join()",
        "<END_OF_PLAN>",
    ]
)

SCENARIOS = [
    Scenario("8-way fan-out (Movie)", fan_out(8), {"search": 0.5}),
    Scenario("ParallelQA fan-out + chain", PARALLELQA, {"search": 0.5, "math": 0.1}),
    Scenario("100-wide plan", fan_out(100), {"search": 0.5}, line_time=0.02),
    Scenario("8-way, 5 lines per chunk", fan_out(8), {"search": 0.5}, chunk_size=140),
    Scenario(
        "ParallelQA, whole plan in 1 chunk",
        PARALLELQA,
        {"search": 0.5, "math": 0.1},
        chunk_size=10_000,
    ),
]
JOIN = "Thought: done.\nAction: Finish(ok)"


def make_tools(latency: dict[str, float]) -> ToolRegistry:
    @tool
    async def search(query: str) -> str:
        """Search."""
        await asyncio.sleep(latency["search"])
        return f"result for {query}"

    @tool
    async def math(expression: str) -> float:
        """Arithmetic."""
        await asyncio.sleep(latency.get("math", 0.0))
        return 1.0

    return ToolRegistry([search, math])


def critical_path(tasks: list[PlanTask], latency: dict[str, float]) -> float:
    finish: dict[int, float] = {}
    for task in tasks:
        finish[task.id] = max((finish[d] for d in task.deps), default=0.0) + latency[task.tool]
    return max(finish.values(), default=0.0)


def streaming_floor(
    tasks: list[PlanTask], arrival: dict[int, float], latency: dict[str, float]
) -> float:
    finish: dict[int, float] = {}
    for task in tasks:
        ready = max([arrival[task.id], *(finish[d] for d in task.deps)])
        finish[task.id] = ready + latency[task.tool]
    return max(finish.values(), default=0.0)


async def measure(s: Scenario) -> dict[str, float]:
    line_chars = max(len(line) for line in s.plan.splitlines())
    tokens_per_second = line_chars / 4 / s.line_time
    model = ScriptedModel(
        [s.plan, JOIN], chunk_size=s.chunk_size, ttft=s.ttft, tokens_per_second=tokens_per_second
    )
    agent = Agent(model, make_tools(s.latency), max_tasks=1000)
    events: list[Event] = []
    t0 = time.perf_counter()
    async with agent.stream("q") as stream:
        async for event in stream:
            events.append(event)
    measured = time.perf_counter() - t0
    result = events[-1].result  # type: ignore[attr-defined]
    start = result.started_at
    planner, joiner = result.calls
    t_plan = next(e for e in events if isinstance(e, PlanFinished)).at - start
    ttft = (planner.first_token_at or planner.started_at) - start
    t_join = joiner.duration
    tasks = [e.task for e in events if isinstance(e, TaskPlanned)]
    arrival = {e.task.id: e.at - start for e in events if isinstance(e, TaskPlanned)}
    path = critical_path(tasks, s.latency)
    issue_floor = max(t_plan, ttft + path) + t_join
    stream_floor = max(t_plan, streaming_floor(tasks, arrival, s.latency)) + t_join
    return {
        "measured": measured,
        "t_plan": t_plan,
        "t_join": t_join,
        "issue_floor": issue_floor,
        "stream_floor": stream_floor,
    }


async def main() -> None:
    print(
        f"{'scenario':<36}{'measured':>9}{'T_plan':>8}{'T_join':>8}"
        f"{'floor':>8}{'ratio':>7}{'stream floor':>14}{'ratio':>7}"
    )
    for scenario in SCENARIOS:
        m = await measure(scenario)
        print(
            f"{scenario.name:<36}{m['measured']:>9.3f}{m['t_plan']:>8.3f}{m['t_join']:>8.3f}"
            f"{m['issue_floor']:>8.3f}{m['measured'] / m['issue_floor']:>7.3f}"
            f"{m['stream_floor']:>14.3f}{m['measured'] / m['stream_floor']:>7.3f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
