"""End-to-end latency over a real HTTP stream, against its streaming floor.

The in-process scenarios of `latency.py` skip the wire. Here the agent uses
`OpenAIModel` (base_url on loopback, a dummy key) against an OpenAI-compatible server
that streams ONE PLAN LINE PER SSE CHUNK: it waits `ttft` after a request, then sends
line k at ``request + ttft + k * line_time`` (a schedule: a sleep per line would drift
by the event loop's timer rounding, 0.24 to 0.35 ms a line here, and the floor with
it), then the finish, usage and ``[DONE]`` events. The joiner's reply is streamed the
same way. Tools sleep their latency. The server runs in one of two places:

- ``process`` (as a real endpoint): a process of its own. A line's arrival is the
  moment the server was about to write it (its `time.perf_counter`, on Linux the
  machine's CLOCK_MONOTONIC, shared by both processes): no client sees it sooner.
- ``loop``: on the client's own event loop, so that the client's work competes with
  the server's sends. A line's arrival is its scheduled time, which no send precedes:
  a send made late by the client's work counts against the client.

The floor is `latency.py`'s streaming floor over those arrivals, a true lower bound: a
task finishes no sooner than ``max(its line's arrival, its inputs' finish) + its
latency``; the plan no sooner than its last line; the run no sooner than the later of
those plus the joiner's service time (from the server reading the joiner's request to
its last line). Work the client does before its plan request reaches the server moves
every arrival with it: it is shown apart (``t0>req``), not in the ratio.

Per scenario and run it prints the measured time, the floor, their ratio, the client's
CPU time per plan line (its event loop's thread), and where time went: the run's start
to the plan request at the server, line to `TaskPlanned` (the wire, SSE, planner,
parser; mean and max), `TaskPlanned` to `TaskStarted`, the last call's end to the
joiner's request at the server, the joiner's last byte to the run's end, and the
full (generation 2) collections that fell in the run. With ``--stages``, one 100-wide
run's CPU time per plan line by stage (`profile_stages`).

Usage: python benchmarks/latency_http.py [--repeat 3] [--server process|loop|both] [--stages]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from latency import fan_out, make_tools, streaming_floor

from toolweave import Agent
from toolweave.events import Event, TaskPlanned, TaskStarted, TaskSucceeded
from toolweave.models import OpenAIModel

JOIN = "Thought: done.\nAction: Finish(ok)"


@dataclass
class Scenario:
    name: str
    plan: str
    latency: dict[str, float]
    line_time: float  # seconds between plan lines
    ttft: float = 0.2


SCENARIOS = [
    Scenario("100-wide plan, 0.01 s a line", fan_out(100), {"search": 0.2}, 0.01),
    Scenario("8-way fan-out, 0.15 s a line", fan_out(8), {"search": 0.2}, 0.15),
]


# -- the server: its own process --------------------------------------------------------


class Server:
    """Scripted completions, one line per SSE event, on a schedule; keeps a timeline."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.timeline: list[dict[str, Any]] = []
        self.connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def close(self) -> None:
        """End the connections still open; their handlers return (none is cancelled)."""
        for writer in self.connections.values():
            writer.transport.abort()
        await asyncio.gather(*self.connections)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self.connections[handler] = writer
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ", 2)[1]
                fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
                body = await reader.readexactly(int(fields.get("content-length", 0)))
                received = time.perf_counter()
                if path.endswith("/chat/completions"):
                    await self.complete(writer, json.loads(body), received)
                elif path == "/script":
                    self.replies, self.timeline = json.loads(body), []
                    self.answer(writer, b"{}")
                elif path == "/timeline":
                    self.answer(writer, json.dumps(self.timeline).encode())
                else:
                    self.answer(writer, b"{}", status="404 Not Found")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.connections.pop(handler, None)
            writer.close()

    @staticmethod
    def answer(writer: asyncio.StreamWriter, payload: bytes, status: str = "200 OK") -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )

    async def complete(
        self, writer: asyncio.StreamWriter, request: dict[str, Any], received: float
    ) -> None:
        reply = self.replies.pop(0)
        text = reply["text"]
        for stop in request.get("stop") or ():  # as endpoints do: the stop is not sent
            if (at := text.find(stop)) >= 0:
                text = text[:at]
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        dues: list[float] = []
        sends: list[float] = []
        for k, line in enumerate(text.splitlines(keepends=True)):
            dues.append(received + reply["ttft"] + k * reply["line_time"])
            if (wait := dues[-1] - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            sends.append(time.perf_counter())  # before the write: a lower bound
            _event(writer, _chunk({"content": line}, None))
            await writer.drain()
        _event(writer, _chunk({}, "stop"))
        usage = {"prompt_tokens": 100, "completion_tokens": len(text) // 4, "total_tokens": 0}
        _event(writer, {**_chunk({}, None), "choices": [], "usage": usage})
        _event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        end = time.perf_counter()
        self.timeline.append({"received": received, "dues": dues, "sends": sends, "end": end})


def _event(writer: asyncio.StreamWriter, data: object) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    event = f"data: {text}\n\n".encode()
    writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")


def _chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def serve() -> None:
    server = Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    print(listener.sockets[0].getsockname()[1], flush=True)
    async with listener:
        await listener.serve_forever()


# -- the client -------------------------------------------------------------------------


def _control(port: int, path: str, payload: object | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Bench:
    """Where the server is, the model that talks to it, and which line times are floors.

    `arrivals` is ``"sends"`` (when the server was about to write each line) for a
    server in its own process, ``"dues"`` (each line's scheduled time) for one on the
    client's loop: there the client's own work can make a send late, and the floor
    must not absorb that.
    """

    port: int
    model: OpenAIModel
    arrivals: str


async def measure(s: Scenario, bench: Bench) -> dict[str, float]:
    replies = [
        {"text": s.plan, "ttft": s.ttft, "line_time": s.line_time},
        {"text": JOIN, "ttft": s.ttft, "line_time": s.line_time},
    ]
    await asyncio.to_thread(_control, bench.port, "/script", replies)
    agent = Agent(bench.model, make_tools(s.latency), max_tasks=1000)
    events: list[Event] = []
    full_collections = gc.get_stats()[2]["collections"]
    cpu = time.thread_time()  # the loop's thread: the benchmark's own threads are apart
    t0 = time.perf_counter()
    async with agent.stream("q") as stream:
        async for event in stream:
            events.append(event)
    end = time.perf_counter()
    cpu = time.thread_time() - cpu
    plan, join = await asyncio.to_thread(_control, bench.port, "/timeline")
    lines = s.plan.splitlines()
    planned = {e.task.id: e for e in events if isinstance(e, TaskPlanned)}
    started = {e.task.id: e.at for e in events if isinstance(e, TaskStarted)}
    finished = max(e.at for e in events if isinstance(e, TaskSucceeded))
    tasks = [e.task for e in planned.values()]
    at = plan[bench.arrivals]
    line_of = {int(x.split(".", 1)[0]): i for i, x in enumerate(lines) if x[:1].isdigit()}
    sent = {t.id: at[line_of[t.id]] for t in tasks}
    arrival = {tid: when - t0 for tid, when in sent.items()}
    t_plan = at[-1] - t0  # the plan's last line (join())
    t_join = join[bench.arrivals][-1] - join["received"]  # the joiner's, from its request
    floor = max(t_plan, streaming_floor(tasks, arrival, s.latency)) + t_join
    to_planned = [planned[t].at - sent[t] for t in sent]
    return {
        "measured": end - t0,
        "floor": floor,
        "t_plan": t_plan,
        "t_join": t_join,
        "cpu_per_line": cpu / len(lines),
        "to_request": plan["received"] - t0,
        "full_collections": gc.get_stats()[2]["collections"] - full_collections,
        "line_to_planned": sum(to_planned) / len(to_planned),
        "line_to_planned_max": max(to_planned),
        "planned_to_started": sum(started[t] - planned[t].at for t in sent) / len(sent),
        "last_call_to_join": join["received"] - finished,
        "join_to_end": end - join["end"],
    }


async def client(port: int, arrivals: str, repeat: int, profile: bool) -> None:
    model = OpenAIModel("bench", base_url=f"http://127.0.0.1:{port}/v1", api_key="dummy")
    bench = Bench(port, model, arrivals)
    try:  # a first run imports and warms what every later run uses
        await measure(Scenario("warm-up", fan_out(2), {"search": 0.01}, 0.01, 0.01), bench)
        # The imports left a generation of objects that the collector has not been
        # through: its first full collection (about 50 ms of CPU here, with 110,000
        # objects) would stall whichever run it falls in. Have it now.
        gc.collect()
        if profile:
            await profile_run(SCENARIOS[0], bench)
        else:
            await table(bench, repeat)
    finally:
        await model.aclose()  # its kept-alive connection, before the server goes


async def table(bench: Bench, repeat: int) -> None:
    print(
        f"{'scenario':<30}{'measured':>9}{'floor':>8}{'ratio':>7}{'CPU/line':>10}{'t0>req':>8}"
        f"{'line>plan':>11}{'(max)':>7}{'plan>start':>11}{'calls>join':>11}{'join>end':>9}"
        f"{'gen2':>5}"
    )
    ratios: dict[str, list[float]] = {s.name: [] for s in SCENARIOS}
    for _ in range(repeat):  # interleaved: a burst of load elsewhere hits every scenario
        for s in SCENARIOS:
            m = await measure(s, bench)
            ratios[s.name].append(m["measured"] / m["floor"])
            ms = {k: v * 1000 for k, v in m.items()}
            print(
                f"{s.name:<30}{m['measured']:>9.3f}{m['floor']:>8.3f}"
                f"{m['measured'] / m['floor']:>7.3f}{m['cpu_per_line'] * 1e6:>8.0f}us"
                f"{ms['to_request']:>6.1f}ms"
                f"{ms['line_to_planned']:>9.2f}ms{ms['line_to_planned_max']:>7.1f}"
                f"{ms['planned_to_started']:>9.2f}ms{ms['last_call_to_join']:>9.1f}ms"
                f"{ms['join_to_end']:>7.1f}ms{m['full_collections']:>5.0f}",
                flush=True,
            )
    for name, values in ratios.items():
        print(f"{name:<30} ratio {min(values):.3f} to {max(values):.3f} over {len(values)} runs")


async def profile_run(s: Scenario, bench: Bench) -> None:
    """CPU time per plan line of `s`, by stage (see `profile_stages`)."""
    from profile_stages import StageTimer, table

    plain = await measure(s, bench)
    timer = StageTimer()
    with timer.timing():
        m = await measure(s, bench)
    lines = len(s.plan.splitlines())
    print(
        f"{s.name}: ratio {plain['measured'] / plain['floor']:.3f} plain, "
        f"{m['measured'] / m['floor']:.3f} timed; CPU per plan line, by stage:"
    )
    for stage, micros, calls in table(timer, m["cpu_per_line"] * lines, lines):
        print(f"  {stage:<66}{micros:>7.0f} us" + (f"  ({calls} calls)" if calls else ""))


async def in_loop(repeat: int, profile: bool) -> None:
    """The server on the client's own event loop: it competes with the client for it."""
    server = Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    async with listener:
        try:
            await client(listener.sockets[0].getsockname()[1], "dues", repeat, profile)
        finally:
            await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", action="store_true", help="CPU by stage, 100-wide")
    parser.add_argument(
        "--server",
        choices=["process", "loop", "both"],
        default="both",
        help="where the server runs (see the module's docstring)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    if args.server in ("process", "both"):
        print("server in its own process; arrivals: the server's sends")
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True, env=os.environ
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            asyncio.run(client(port, "sends", args.repeat, args.stages))
        finally:
            server.terminate()
            server.wait()
    if args.server in ("loop", "both"):
        print("server on the client's event loop; arrivals: the lines' schedule")
        asyncio.run(in_loop(args.repeat, args.stages))


if __name__ == "__main__":
    main()
