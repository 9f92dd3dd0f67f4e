"""Start the test MCP server over stdio (a subprocess) or streamable HTTP (loopback)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import uvicorn

from support import mcp_server
from toolweave.sources import MCPSource

SERVER = Path(__file__).with_name("mcp_server.py")


def stdio_source(log: IO[str], *, name: str | None = None) -> MCPSource:
    return MCPSource.stdio([sys.executable, str(SERVER)], stderr=log, name=name)


@asynccontextmanager
async def serve_http(app: object, *, port: int = 0, force: bool = False) -> AsyncIterator[str]:
    """Serve an ASGI app on loopback until the block ends; yield its URL.

    A free port unless `port` is given; `force` drops open connections at the end (a
    server that goes away under its clients).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn has no startup event
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = force
        await task
        sock.close()


@asynccontextmanager
async def mcp_http_url() -> AsyncIterator[str]:
    """The test MCP server over streamable HTTP; yields the endpoint's URL."""
    app = mcp_server.build().streamable_http_app()
    async with serve_http(app) as base:
        yield f"{base}/mcp"
