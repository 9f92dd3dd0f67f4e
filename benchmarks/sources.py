"""Tool sources: the cost of a call through MCP (stdio, streamable HTTP) and OpenAPI,
against a direct Python tool, and whether calls through one shared session overlap.

Every server runs on this machine, the MCP ones in processes of their own, the
OpenAPI one on a thread here; the tools sleep a set time. Figures:

- per call: the mean time of one call of a no-op tool, one after another (the direct
  Python tool is the floor);
- overlap: N concurrent calls of a tool that sleeps S seconds, through one session:
  wall / S is 1.0 when they all run at once, N when they run one after another.

Usage: python benchmarks/sources.py [--calls 200] [--fan 16] [--sleep 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from toolweave import ToolRegistry, tool
from toolweave.sources import MCPSource, OpenAPISource


def mcp_server() -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import ToolAnnotations

    server = MCPServer("bench")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def noop() -> int:
        """Nothing."""
        return 1

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def wait(seconds: float) -> float:
        """Sleep."""
        await asyncio.sleep(seconds)
        return seconds

    return server


SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "bench"},
    "paths": {
        "/noop": {"get": {"operationId": "noop", "responses": {"200": {"description": "1"}}}},
        "/wait": {
            "get": {
                "operationId": "wait",
                "parameters": [
                    {
                        "name": "seconds",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "number"},
                    }
                ],
                "responses": {"200": {"description": "slept"}},
            }
        },
    },
}


class Service(ThreadingHTTPServer):
    request_queue_size = 128  # the default (5) drops connections of a 16-way fan-out


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/wait"):
            time.sleep(float(self.path.partition("=")[2]))
        body = b"1"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def per_call(tools: ToolRegistry, calls: int) -> float:
    fn = tools["noop"].fn
    assert fn is not None
    await fn()  # warm
    start = time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - start) / calls


async def overlap(tools: ToolRegistry, fan: int, sleep: float) -> float:
    fn = tools["wait"].fn
    assert fn is not None
    start = time.perf_counter()
    await asyncio.gather(*(fn(seconds=sleep) for _ in range(fan)))
    return (time.perf_counter() - start) / sleep


async def measure(
    name: str, open_tools: Callable[[], Awaitable[ToolRegistry]], args: argparse.Namespace
) -> None:
    tools = await open_tools()
    try:
        cost = await per_call(tools, args.calls)
        ratio = await overlap(tools, args.fan, args.sleep)
    finally:
        await tools.aclose()
    print(
        f"{name:<14} {cost * 1e3:8.2f} ms a call   {args.fan} calls of {args.sleep:g}s at once: "
        f"wall {ratio:.2f}x one call"
    )


async def main(args: argparse.Namespace) -> None:
    @tool(read_only=True)
    async def noop() -> int:
        """Nothing."""
        return 1

    @tool(read_only=True)
    async def wait(seconds: float) -> float:
        """Sleep."""
        await asyncio.sleep(seconds)
        return seconds

    async def direct() -> ToolRegistry:
        return ToolRegistry([noop, wait])

    async def stdio() -> ToolRegistry:
        source = MCPSource.stdio([sys.executable, __file__, "--serve"], stderr=sys.stderr)
        registry = ToolRegistry([source])
        await registry.open()
        return registry

    with socket.socket() as sock:  # a free port for the HTTP server's own process
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-http",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    for _ in range(500):  # until it accepts connections (it imports for a second or two)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        break

    async def http() -> ToolRegistry:
        registry = ToolRegistry([MCPSource.http(f"http://127.0.0.1:{port}/mcp")])
        await registry.open()
        return registry

    service = Service(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=service.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    spec = Path(__file__).with_name(".bench_spec.json")
    spec.write_text(json.dumps(SPEC))

    async def openapi() -> ToolRegistry:
        base = f"http://127.0.0.1:{service.server_address[1]}"
        registry = ToolRegistry([OpenAPISource(spec, base_url=base)])
        await registry.open()
        return registry

    try:
        for name, opener in (
            ("direct", direct),
            ("mcp stdio", stdio),
            ("mcp http", http),
            ("openapi", openapi),
        ):
            await measure(name, opener, args)
    finally:
        spec.unlink()
        service.shutdown()
        server.terminate()
        await server.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        mcp_server().run("stdio")
        sys.exit(0)
    if sys.argv[1:2] == ["--serve-http"]:
        mcp_server().run("streamable-http", port=int(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--fan", type=int, default=16)
    parser.add_argument("--sleep", type=float, default=0.2)
    asyncio.run(main(parser.parse_args()))
