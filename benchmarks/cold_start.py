"""The first run of a process: how long after its plan line does the first tool start?

Each mode runs in a fresh Python process (so nothing is imported yet), against a
loopback server that speaks the OpenAI streaming protocol: it waits `--ttft` seconds,
then sends the plan line in one piece. The figure is the time from that send to the
first `TaskStarted` event (one clock: the server runs on the run's own event loop).

- ``cold``: the agent is made and runs at once.
- ``loaded``: ``await agent.load()`` first (what an app does at start-up).

Target: the first tool starts within 50 ms of its plan line.

Usage: python benchmarks/cold_start.py [--repeat 3] [--ttft 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

PLAN = '1. lookup(key="a")\njoin()\n<END_OF_PLAN>'
ANSWER = "Action: Finish(a)"


async def child(mode: str, ttft: float) -> float:
    """One run in this fresh process; returns plan-line-to-first-tool seconds."""
    sent: list[float] = []
    replies = [PLAN, ANSWER]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        text = replies.pop(0)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        await asyncio.sleep(ttft)
        for data in (
            {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            "[DONE]",
        ):
            if isinstance(data, dict):
                data = json.dumps(
                    {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
                    | data
                )
            event = f"data: {data}\n\n".encode()
            writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            await writer.drain()
            if not sent:
                sent.append(time.perf_counter())
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    from toolweave import Agent, tool
    from toolweave.events import TaskStarted
    from toolweave.models import OpenAIModel

    @tool(read_only=True)
    async def lookup(key: str) -> str:
        """Look a key up."""
        return key

    agent = Agent(OpenAIModel("m", base_url=f"http://127.0.0.1:{port}/v1"), [lookup])
    if mode == "loaded":
        await agent.load()
    started = 0.0
    async with agent.stream("q") as events:
        async for event in events:
            if isinstance(event, TaskStarted) and not started:
                started = event.at
    server.close()
    return started - sent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ttft", type=float, default=0.3)
    parser.add_argument("--child", choices=["cold", "loaded"])
    args = parser.parse_args()
    if args.child:
        print(asyncio.run(child(args.child, args.ttft)))
        return
    print(f"plan line -> first tool start, fresh process each run (ttft {args.ttft}s)")
    for mode in ("cold", "loaded"):
        runs = [
            float(
                subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--ttft", str(args.ttft)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()[-1]
            )
            for _ in range(args.repeat)
        ]
        median = statistics.median(runs)
        print(
            f"{mode:>7}: median {median * 1000:7.1f} ms "
            f"(runs: {', '.join(f'{r * 1000:.1f}' for r in runs)}) "
            f"{'meets' if median <= 0.05 else 'misses'} the 50 ms target"
        )


if __name__ == "__main__":
    main()
