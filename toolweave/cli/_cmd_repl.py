"""The ``repl`` command: load the tools, then hand over to the REPL (`toolweave.cli._repl`).

The REPL's module (prompt_toolkit) is imported only when this command runs.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from toolweave.cli._options import index_dir, load_registry, load_tools, tracer_provider

__all__ = ["repl_command"]


async def repl_command(args: argparse.Namespace, console: Console) -> int:
    """``toolweave repl``: the tools (``--registry``, ``--tools`` or the demo's) in a REPL."""
    from toolweave import demo
    from toolweave.cli._repl import Repl

    if args.registry:
        tools, examples = load_registry(args.registry), None
    elif args.tools:
        tools, examples = load_tools(args.tools), None
    else:
        tools, examples = demo.TOOLS, demo.EXAMPLES
    spec = args.registry or " ".join(args.tools or ()) or "toolweave.demo:TOOLS"
    repl = Repl(
        console,
        args.model,
        tools,
        examples=examples,
        index_path=index_dir(spec, "wordllama"),  # the one `tools search` and `learn` use
        vi=args.vi,
        resume=args.resume,
        tracer_provider=tracer_provider(args),
    )
    async with tools:  # sources (MCP servers, OpenAPI specs) connect for the session
        return await repl.run()
