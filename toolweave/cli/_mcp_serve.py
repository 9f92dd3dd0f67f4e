"""``toolweave mcp serve``: the agent as one MCP tool, ``answer``, for other agents.

(Needs the ``mcp`` extra; the command line imports this module only for ``mcp serve``.)

A request goes in; the agent compiles it into a parallel plan, runs it, and the answer
comes back with a compact trace (each task's call, state, time and result). A run that
did not finish comes back as an error result (``isError``), its trace and error kept.
While it runs, every task that starts or ends is an MCP progress notification.

The command refuses destructive tools unless the operator allows them, and over http
checks hosts and origins, and off loopback a bearer token (see `_mcp_guard`).
"""

from __future__ import annotations

import argparse
import contextvars
import os
import secrets
from collections.abc import Mapping
from typing import Annotated, Literal

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from rich.console import Console
from starlette.types import ASGIApp

from toolweave.agent import Agent
from toolweave.cli._mcp_guard import BearerAuth, bind, is_loopback, security_settings, url_host
from toolweave.errors import ToolError, ToolweaveError
from toolweave.events import Event, PlanFinished, TaskFailed, TaskPlanned, TaskSucceeded
from toolweave.fetcher import TaskState
from toolweave.models import resolve_model
from toolweave.plan import render_text
from toolweave.redaction import register_secret
from toolweave.tools import Tool

__all__ = ["Answer", "TraceEntry", "ask_client", "build_server", "refuse", "serve_command"]

_SHOWN = 300  # characters of a result in the trace
_TOKEN_VARIABLE = "TOOLWEAVE_MCP_TOKEN"
_SAID = {
    "failed": "The run failed",
    "budget_exceeded": "The run went over its budget",
    "cancelled": "The run was cancelled",
    "paused": "The run paused for an approval nobody can give here",
}
_request: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "toolweave_mcp_request", default=None
)


class Approval(BaseModel):
    """What the client is asked before a destructive call."""

    approve: bool = Field(description="Let this call run?")


async def ask_client(tool: Tool, args: Mapping[str, object]) -> bool:
    """An `approve` callback: ask the MCP client whose request runs (elicitation).

    Connections of the handshake era (protocol 2025) can be asked; a 2026-07-28
    connection has no back-channel for it. A client that cannot be asked, declines or
    cancels refuses the call.
    """
    ctx = _request.get()
    if ctx is None:
        return False
    call = f"{tool.name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
    try:
        reply = await ctx.elicit(f"Allow {call}? {tool.description}".strip(), Approval)
    except Exception:  # the client does not support elicitation, or it failed
        return False
    return reply.action == "accept" and reply.data.approve


def refuse(tool: Tool, args: Mapping[str, object]) -> bool:
    """An `approve` callback that refuses every destructive call, saying how to allow it.

    Raises:
        ToolError: Always, of kind ``refused``.
    """
    raise ToolError(
        tool.name,
        "refused: destructive tools run only when `toolweave mcp serve` is started with "
        "--allow-destructive",
        args=args,
        kind="refused",
    )


class TraceEntry(BaseModel):
    """One task of the run, in short."""

    id: int
    call: str = Field(description="The call as the plan wrote it, with $N refs.")
    after: list[int] = Field(description="The tasks whose results it used.")
    state: Literal["pending", "running", "succeeded", "failed", "skipped"]
    seconds: float | None = None
    result: str | None = Field(None, description="Its value, or why it failed or was skipped.")


class Answer(BaseModel):
    """What the ``answer`` tool returns."""

    answer: str | None = Field(description="The answer, or null when the run did not finish.")
    status: Literal["finished", "budget_exceeded", "failed", "cancelled", "paused"]
    error: str | None = None
    plans: int = Field(description="How many plans it took (replans included).")
    seconds: float = Field(description="Wall time of the run.")
    trace: list[TraceEntry]


def build_server(agent: Agent, *, name: str = "toolweave", destructive: bool = True) -> MCPServer:
    """An MCP server (the SDK's `MCPServer`) whose one tool, ``answer``, runs `agent`.

    The agent's tool sources must be open while the server serves (``async with``).
    With ``approve=ask_client``, the agent asks the MCP client before a destructive call.
    A run that does not finish is an error result (``isError``) that still holds the
    `Answer`, with its error first in the text.

    Args:
        agent: Runs each request.
        name: The server's name.
        destructive: Whether the agent may run destructive tools at all (the ``answer``
            tool's hints say so); with ``False``, give the agent ``approve=refuse``.
    """
    tools = ", ".join(agent.tools.names[:12]) + (", ..." if len(agent.tools) > 12 else "")
    server = MCPServer(
        name,
        instructions="Ask `answer` for anything its tools can find or compute; it plans the "
        "tool calls, runs independent ones in parallel, and answers with a trace.",
    )

    @server.tool(
        description="Answer a request by compiling it into a plan of tool calls, run in "
        f"parallel where they are independent. Tools: {tools}.",
        annotations=ToolAnnotations(
            read_only_hint=all(t.read_only for t in agent.tools),
            destructive_hint=destructive and any(t.destructive for t in agent.tools),
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    async def answer(request: str, ctx: Context) -> Annotated[CallToolResult, Answer]:
        """Answer one request."""
        progress = _Progress()
        error: ToolweaveError | None = None
        _request.set(ctx)  # for `ask_client`, in the run's tasks
        async with agent.stream(request) as events:
            result = events.result  # filled in as the run goes
            try:
                async for event in events:
                    message = progress.update(event)
                    if message is not None:
                        await ctx.report_progress(progress.done, progress.total, message)
            except ToolweaveError as exc:  # the result keeps what finished
                error = exc
        return _result(
            Answer(
                answer=result.answer,
                status=result.status,
                error=result.error or (str(error) if error else None),
                plans=len(result.plans),
                seconds=round(result.wall_time, 3),
                trace=[
                    TraceEntry(
                        id=task.task.id,
                        call=task.task.call_text(),
                        after=sorted(task.task.deps),
                        state=task.state.value,
                        seconds=round(task.duration, 3) if task.duration is not None else None,
                        result=_outcome(task.state, task.value, task.error, task.reason),
                    )
                    for task in result.tasks.values()
                ],
            )
        )

    return server


def _result(answer: Answer) -> CallToolResult:
    """The tool's result: the answer as data, and as text; an error unless it finished."""
    data = answer.model_dump(mode="json")
    text = answer.model_dump_json(indent=2)
    if answer.status != "finished":
        said = _SAID.get(answer.status, f"The run ended {answer.status}")
        text = f"{said}: {answer.error or 'no answer'}\n\n{text}"
    content = [TextContent(type="text", text=text)]
    return CallToolResult(
        content=content, structured_content=data, is_error=answer.status != "finished"
    )


class _Progress:
    """Counts planned and finished tasks; says what to report, if anything."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0

    def update(self, event: Event) -> str | None:
        if isinstance(event, TaskPlanned):
            self.total += 1
            return f"planned {event.task.id}. {event.task.call_text()}"
        if isinstance(event, TaskSucceeded | TaskFailed):
            self.done += 1
            state = "done" if isinstance(event, TaskSucceeded) else "failed"
            return f"{state} {event.task.id}. {event.task.tool} in {event.duration:.2f}s"
        if isinstance(event, PlanFinished):
            return f"plan {event.index + 1} written: {len(event.task_ids)} tasks"
        return None


def _outcome(state: TaskState, value: object, error: object, reason: str | None) -> str | None:
    if state is TaskState.SUCCEEDED:
        text = render_text(value)
    elif state is TaskState.FAILED:
        text = str(error)
    else:
        text = reason or ""
    return text[:_SHOWN] + ("..." if len(text) > _SHOWN else "") if text else None


async def serve_command(args: argparse.Namespace, console: Console) -> int:
    """``toolweave mcp serve``: serve until the client leaves (stdio) or Ctrl-C (http)."""
    from toolweave import demo
    from toolweave.cli._options import load_tools

    tools = load_tools(args.tools) if args.tools else demo.TOOLS
    agent = Agent(
        resolve_model(args.model),
        tools,
        max_replans=args.max_replans,
        time_limit=args.time_limit,
        examples=None if args.tools else demo.EXAMPLES,
        approve=ask_client if args.allow_destructive else refuse,
    )
    async with agent:
        server = build_server(agent, destructive=args.allow_destructive)
        if args.transport == "stdio":  # stdout is the protocol's: print nothing
            await server.run_stdio_async()
        else:
            await _serve_http(server, args)
    return 0


async def _serve_http(server: MCPServer, args: argparse.Namespace) -> None:
    """Serve over streamable HTTP behind the host, origin and token checks."""
    notices = Console(stderr=True, soft_wrap=True, highlight=False, markup=False, emoji=False)
    token: str | None = args.token or os.environ.get(_TOKEN_VARIABLE) or None
    generated = token is None and not is_loopback(args.host)
    if generated:
        token = secrets.token_urlsafe(32)
    security = security_settings(args.host, args.allow_host or (), args.allow_origin or ())
    app: ASGIApp = server.streamable_http_app(transport_security=security, host=args.host)
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    if token is not None:
        register_secret(token)  # never in a log or an export
        app = BearerAuth(app, token)
    if generated:
        notices.print(f"bearer token: {token}")
    guard = "a bearer token" if token else "loopback only, no token"
    url = f"http://{url_host(args.host or '0.0.0.0')}:{port}/mcp"
    notices.print(f"serving `answer` at {url} ({guard})")
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()
