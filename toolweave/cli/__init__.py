"""The ``toolweave`` command: `main` and its parser tree; each command in its own module.

- ``run``, ``demo``: `_cmd_run` (the live view: `_render`).
- ``tools``: `_cmd_tools`; ``log``: `_cmd_log` (the run log `_runlog`, `_timeline`).
- ``repl``: `_cmd_repl`, which starts `_repl`; its slash commands are `_slash`, and
  what it remembers between runs `_repl_state`.
- ``eval``: `_cmd_eval`; ``mcp serve``: `_cmd_mcp`, which starts `_mcp_serve`
  (`_mcp_guard` checks its HTTP requests).
- `_options` reads what options name (``--tools``, ``--registry``, ``--trace-console``);
  `_safe` keeps model and tool text harmless on a terminal; `_trace` writes events as JSON.

The top layer, with `toolweave.evals`: it may import every layer below it (the agent
included) and the evaluation harness; nothing in toolweave imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from toolweave import __version__
from toolweave.cli._cmd_eval import eval_command
from toolweave.cli._cmd_log import log_command
from toolweave.cli._cmd_mcp import mcp_command
from toolweave.cli._cmd_repl import repl_command
from toolweave.cli._cmd_run import demo_command, run_command
from toolweave.cli._cmd_tools import tools_forget, tools_learn, tools_list, tools_search
from toolweave.cli._safe import clean
from toolweave.errors import UserError
from toolweave.retrieval._embedders import EMBEDDERS

__all__ = ["main"]

Handler = Callable[[argparse.Namespace, Console], Coroutine[Any, Any, int]]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolweave`` console script."""
    # MODULE:ATTR may name a module of the working directory, as under `python -m
    # toolweave`: the console script's path starts elsewhere. Appended, so that a file
    # there never shadows a package that toolweave imports later (`mcp.py`, `openai.py`).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    parser = _parser()
    args = parser.parse_args(argv)
    # markup off: text from models and tools is shown as written, never as markup
    console = Console(stderr=False, highlight=False, markup=False, emoji=False)
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, console))
    except UserError as exc:
        console.print(Text(f"error: {clean(exc)}", "red"))
        return 2
    except KeyboardInterrupt:
        console.print(Text("interrupted", "red"))
        return 130


class _Parser(argparse.ArgumentParser):
    """Options spelled out in full: a misspelt ``--mode`` is not taken for ``--model``.

    Subcommands' parsers are of the class of the parser above them, so this holds for all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="toolweave",
        description="Compile requests into parallel plans of tool calls, and run them.",
    )
    parser.add_argument("--version", action="version", version=f"toolweave {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="answer a request with the agent")
    run.add_argument("request", help="the question or task, in quotes")
    _agent_options(run)
    run.add_argument("--json", action="store_true", help="print the whole run as JSON")
    run.set_defaults(handler=run_command)

    tools = commands.add_parser("tools", help="list, search or teach a tool registry's index")
    tool_commands = tools.add_subparsers(required=True, metavar="ACTION")
    search = tool_commands.add_parser(
        "search",
        help="the retriever's top matches, with scores",
        description="The hybrid retriever's top matches (BM25 + dense, families, near-copies "
        "kept apart). Example questions make tool documents say more: "
        "Retriever.aenrich(model, cache) writes them with a model, 3 to 8 s a tool on the "
        "local model (about 1.5 hours per 1,000 tools, once; larger registries read the "
        "cache only).",
    )
    search.add_argument("query")
    search.add_argument("-k", type=_at_least(1), default=5, help="how many tools (default 5)")
    search.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid")
    search.add_argument(
        "--embedder",
        choices=list(EMBEDDERS),
        default="wordllama",
        help="the dense side: "
        + "; ".join(f"{name}: {about}" for name, (about, _) in EMBEDDERS.items()),
    )
    learn = tool_commands.add_parser(
        "learn",
        help="teach the index that these tools served a request",
        description="Teach the index `tools search` keeps (one per registry and embedder) "
        "that TOOLs served REQUEST: it joins their documents, so requests phrased alike "
        "find them (Retriever.learn). Each tool keeps its 50 most recent requests.",
    )
    learn.add_argument("request")
    learn.add_argument("tools", nargs="+", metavar="TOOL")
    forget = tool_commands.add_parser(
        "forget",
        help="drop what the index learned, for these tools or --all",
        description="Drop the requests `tools learn` (or the REPL's /learn) taught the "
        "index, for the TOOLs named, or for every tool with --all.",
    )
    forget.add_argument("tools", nargs="*", metavar="TOOL")
    forget.add_argument("--all", action="store_true", help="every tool's learned requests")
    listing = tool_commands.add_parser("list", help="every tool with its signature")
    for sub in (learn, forget):
        sub.add_argument(
            "--embedder",
            choices=list(EMBEDDERS),
            default="wordllama",
            help="the index of which embedder (`tools search --embedder`); default wordllama",
        )
    for sub in (search, learn, forget, listing):
        sub.add_argument(
            "--registry",
            default="toolweave.demo:TOOLS",
            help="toole, sealtools, shortcutsbench, autotools, MODULE:ATTR, or a JSON file "
            "of OpenAI tools (default: the demo tools)",
        )
    search.set_defaults(handler=tools_search)
    learn.set_defaults(handler=tools_learn)
    forget.set_defaults(handler=tools_forget)
    listing.set_defaults(handler=tools_list)

    repl = commands.add_parser("repl", help="ask interactively, with a live plan")
    _agent_options(repl)
    repl.add_argument("--registry", help="a registry instead of --tools (see: tools search)")
    repl.add_argument("--vi", action="store_true", help="Vi key bindings")
    repl.add_argument("--resume", metavar="ID", help="continue a stored conversation")
    repl.set_defaults(handler=repl_command)

    log = commands.add_parser("log", help="list past runs, or show one: log [show] ID")
    log.add_argument("run_id", nargs="?", help="a run id (or a unique prefix)")
    log.add_argument("show_id", nargs="?", help=argparse.SUPPRESS)
    log.add_argument("--limit", type=_at_least(1), default=20)
    log.add_argument("--svg", metavar="FILE", help="draw the run as a timeline in FILE")
    log.set_defaults(handler=log_command)

    evaluate = commands.add_parser("eval", help="run the evaluation suite")
    evaluate.add_argument(
        "suite",
        nargs="?",
        help="a suite name (see --list), 'all', 'retrieval', or a .jsonl file of your own "
        "cases (run over --tools)",
    )
    evaluate.add_argument(
        "--tools",
        action="append",
        metavar="SOURCE",
        help="for a cases file: MODULE:ATTR, mcp:stdio:COMMAND, mcp:URL or openapi:SPEC "
        "(repeatable)",
    )
    evaluate.add_argument("--list", action="store_true", help="list the suites")
    evaluate.add_argument(
        "--strategy",
        action="append",
        help="llmcompiler, react, parallel-fc, oracle, oracle-drop, oracle-swap, "
        "oracle-falsedep (repeatable; default: the first three)",
    )
    evaluate.add_argument("--model", default="local")
    evaluate.add_argument(
        "--limit", type=_at_least(1), default=None, help="a seeded sample of N cases"
    )
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--concurrency", type=_at_least(1), default=1)
    evaluate.add_argument(
        "--latency",
        type=float,
        default=None,
        help="median simulated tool latency, s (default 0.3); for suites with real tools "
        "(countries), seconds per lookup (default 0)",
    )
    evaluate.add_argument("--out", default="eval-results", help="results directory")
    evaluate.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="spread the cases over Ray workers: a local instance, or the cluster at "
        "ADDRESS ('auto', 'ray://head:10001'); needs toolweave[ray]",
    )
    evaluate.add_argument(
        "--workers",
        type=_at_least(1),
        default=None,
        help="Ray workers, one model each (default: CPUs)",
    )
    evaluate.add_argument(
        "--case", action="append", metavar="ID", help="only this case (repeatable)"
    )
    evaluate.add_argument(
        "--threads",
        type=_at_least(1),
        default=None,
        help="CPU threads of the local model (default: every core; on a busy machine, "
        "fewer threads than cores can be much faster)",
    )
    evaluate.add_argument(
        "--record", metavar="DIR", help="save every model call to DIR/calls.jsonl"
    )
    evaluate.add_argument(
        "--replay",
        metavar="DIR",
        help="answer the model calls from DIR/calls.jsonl (a --record run; or "
        "calls.jsonl.gz) instead of a model",
    )
    evaluate.add_argument(
        "--embedder",
        choices=list(EMBEDDERS),
        default=None,
        help="retrieval only: the dense side, wordllama by default; "
        + "; ".join(f"{name}: {about}" for name, (about, _) in EMBEDDERS.items()),
    )
    evaluate.add_argument(
        "--learn",
        action="store_true",
        help="retrieval only: a last row, +learned, after the retriever learned the dev "
        "part's requests (every fifth query, with the tools that served it); the queries "
        "are then drawn from the other four fifths",
    )
    evaluate.add_argument(
        "--pace",
        metavar="TTFT,TPS",
        default="0.4,80",
        help="with --replay: seconds to first token and tokens per second (default 0.4,80)",
    )
    evaluate.set_defaults(handler=eval_command)

    mcp = commands.add_parser("mcp", help="serve the agent over MCP")
    mcp_commands = mcp.add_subparsers(required=True, metavar="ACTION")
    serve = mcp_commands.add_parser(
        "serve",
        help="an MCP server with one tool, `answer`: a request in, the answer out",
        description="Serve the agent as an MCP server with one tool, `answer`. Over http, "
        "only requests whose Host (and Origin, where sent) is allowed are answered (421 and "
        "403 otherwise). Bound to a loopback address (127.0.0.1, localhost, ::1) it needs "
        "no token unless given one; bound anywhere else it needs a bearer token: every "
        "request must send `Authorization: Bearer TOKEN` (401 otherwise), and without "
        "--token or TOOLWEAVE_MCP_TOKEN one is generated and printed to stderr. Destructive "
        "tools are refused unless --allow-destructive is given.",
    )
    _agent_options(serve)
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="for http (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_at_least(0), default=8000, help="for http (default 8000; 0: a free one)"
    )
    serve.add_argument(
        "--token",
        help="for http: the bearer token clients must send (default: $TOOLWEAVE_MCP_TOKEN; "
        "off loopback, a generated one, printed to stderr)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        help="for http: a Host the server answers to, repeatable (default: the bound host, "
        "this machine's names where bound to all addresses, and loopback)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="for http: a browser Origin allowed, like https://app.example.com, repeatable "
        "(default: http(s) origins of the allowed hosts)",
    )
    serve.add_argument(
        "--allow-destructive",
        action="store_true",
        help="let the agent run destructive tools, each call still put to the MCP client "
        "where it can be asked (default: refused)",
    )
    serve.set_defaults(handler=mcp_command)

    demo = commands.add_parser("demo", help="the agent on the local model, with demo tools")
    _agent_options(demo, tools=False)
    demo.add_argument("--question", action="append", help="ask this instead (repeatable)")
    demo.set_defaults(handler=demo_command)
    return parser


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than `minimum`."""

    def parse(text: str) -> int:
        value = int(text)  # argparse reports a ValueError as "invalid int value"
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    parse.__name__ = "int"
    return parse


def _agent_options(parser: argparse.ArgumentParser, *, tools: bool = True) -> None:
    parser.add_argument(
        "--model",
        default="local",
        help="'local' (default), 'local:<file.gguf>', 'openai:<model>', 'openai:<model>@<url>'",
    )
    if tools:
        parser.add_argument(
            "--tools",
            action="append",
            metavar="SOURCE",
            help="MODULE:ATTR (a list of tools or a ToolRegistry), mcp:stdio:COMMAND, "
            "mcp:URL, openapi:SPEC or openapi:SPEC@SERVICE_URL; repeatable (default: the "
            "demo tools)",
        )
    parser.add_argument("--max-replans", type=_at_least(0), default=2)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per run")
    parser.add_argument(
        "--trace-console",
        action="store_true",
        help="print the runs' OpenTelemetry spans (needs opentelemetry-sdk)",
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
