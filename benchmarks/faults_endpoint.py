"""Fault campaign, part 2: a misbehaving OpenAI-protocol endpoint, on loopback.

Each scenario scripts the test server (tests/support/openai_server.py) to fail one way, runs the
agent against it through `OpenAIModel`, and checks the outcome: the call is retried
within its budget and the run answers, or it ends in a clear `ModelError` within its
bound; tasks dispatched before a stream broke finish and are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import tenacity
from support.openai_server import OpenAIServer, Reply

from toolweave import Agent, ModelError, RunResult, TaskState, tool
from toolweave.models import OpenAIModel

PLAN = '1. look(key="a")\n2. look(key="b")\n3. look(key="c")\njoin()\n<END_OF_PLAN>'
FINISH = "Thought: done.\nAction: Finish(a b c)"
TIMEOUT = 0.5  # seconds per HTTP request
BOUND = 10.0  # seconds: a scenario that takes longer is a hang


@tool(read_only=True)
async def look(key: str) -> str:
    """Look a key up."""
    await asyncio.sleep(0.01)
    return f"v:{key}"


@dataclass
class Outcome:
    """What one scenario did."""

    name: str
    ok: bool
    detail: str
    seconds: float


Check = Callable[[RunResult | None, BaseException | None, float], str | None]


def answered(result: RunResult | None, error: BaseException | None, seconds: float) -> str | None:
    """The run answered, with all three lookups."""
    if error is not None or result is None:
        return f"expected an answer, got {error!r}"
    if result.answer != "a b c":
        return f"answer {result.answer!r}"
    if [r.value for r in result.tasks.values()] != ["v:a", "v:b", "v:c"]:
        return "a lookup was lost"
    return None


def model_error(words: str, kept: int = 0) -> Check:
    """The run ended in a ModelError that says `words`, keeping `kept` finished lookups."""

    def check(result: RunResult | None, error: BaseException | None, seconds: float) -> str | None:
        if not isinstance(error, ModelError) or words not in str(error):
            return f"expected a ModelError saying {words!r}, got {error!r}"
        partial = error.result
        if partial is None or partial.status != "failed":
            return "the error carries no failed result"
        done = [r for r in partial.tasks.values() if r.state is TaskState.SUCCEEDED]
        if len(done) < kept:
            return f"only {len(done)} of {kept} dispatched lookups kept"
        return None

    return check


def waited(at_least: float) -> Check:
    """As `answered`, and the client waited as the server asked."""

    def check(result: RunResult | None, error: BaseException | None, seconds: float) -> str | None:
        return answered(result, error, seconds) or (
            None if seconds >= at_least else f"retried after {seconds:.2f}s, before {at_least}s"
        )

    return check


def scenarios() -> list[tuple[str, list[Reply], Check]]:
    """(name, the server's replies in order, the check)."""
    plan, finish = Reply(PLAN), Reply(FINISH)
    broken = 2 * len('1. look(key="a")\n') // 5 + 1  # pieces: just past the second line
    return [
        (
            "429 with Retry-After: 0.3",
            [Reply(status=429, headers={"Retry-After": "0.3"}), plan, finish],
            waited(0.3),
        ),
        (
            "429 with retry-after-ms",
            [Reply(status=429, headers={"retry-after-ms": "200"}), plan, finish],
            waited(0.2),
        ),
        ("429 without Retry-After", [Reply(status=429), plan, finish], answered),
        (
            "429 asking for an hour",
            [Reply(status=429, headers={"Retry-After": "3600"})],
            model_error("HTTP 429"),
        ),
        ("429 every time", [Reply(status=429)] * 3, model_error("after 3 attempt(s)")),
        ("500", [Reply(status=500), plan, finish], answered),
        ("502", [Reply(status=502), plan, finish], answered),
        ("503 twice", [Reply(status=503), Reply(status=503), plan, finish], answered),
        ("400 (not retried)", [Reply(status=400)], model_error("HTTP 400 ")),
        ("reset before answering", [Reply(reset=True), plan, finish], answered),
        (
            "reset mid-stream",
            [Reply(PLAN, cut_after=broken), finish],
            model_error("the stream broke", kept=2),
        ),
        (
            "malformed SSE mid-stream",
            [Reply(PLAN, garbage="not json", garbage_after=broken), finish],
            model_error("the stream broke", kept=2),
        ),
        (
            "truncated JSON mid-stream",
            [Reply(PLAN, garbage='{"id": "x", "choices": [{"del', garbage_after=broken), finish],
            model_error("the stream broke", kept=2),
        ),
        ("stall past the timeout, then fine", [Reply(stall=3 * TIMEOUT), plan, finish], answered),
        (
            "stall past the timeout every time",
            [Reply(stall=3 * TIMEOUT)] * 3,
            model_error("Timeout"),
        ),
        (
            "stall mid-stream",
            [Reply(PLAN, stall=3 * TIMEOUT, stall_after=broken), finish],
            model_error("the stream broke", kept=2),
        ),
        (
            "endless stream",
            [Reply("x" * 50, endless=True, chunk=50)],
            model_error("past max_tokens"),
        ),
        (
            "joiner's stream ends without finish_reason",
            [plan, Reply(FINISH, finish=False)],
            model_error("ended before the model finished", kept=3),
        ),
    ]


async def run_scenario(name: str, replies: list[Reply], check: Check) -> Outcome:
    """Run the agent against the scripted server; check what came of it."""
    async with OpenAIServer(deque(replies)) as server:
        model = OpenAIModel(
            "faulty",
            base_url=server.base_url,
            max_retries=2,
            timeout=TIMEOUT,
            retry_wait=tenacity.wait_fixed(0.01),
        )
        agent = Agent(model, [look], max_replans=0)
        result: RunResult | None = None
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(BOUND):
                result = await agent.run("look up a, b and c")
        except TimeoutError:
            return Outcome(name, False, f"no end within {BOUND}s", BOUND)
        except Exception as exc:
            error = exc
        finally:
            agent.close()
        seconds = time.perf_counter() - started
    problem = check(result, error, seconds)
    detail = problem or (f"ModelError: {error}" if error is not None else "answered")
    return Outcome(name, problem is None, detail, seconds)


async def campaign() -> list[Outcome]:
    """Every scenario, one after the other."""
    return [await run_scenario(*scenario) for scenario in scenarios()]
