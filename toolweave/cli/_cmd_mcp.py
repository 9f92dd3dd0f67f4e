"""The ``mcp serve`` command's entry: the server's module needs the ``mcp`` extra.

`toolweave.cli._mcp_serve` imports the MCP SDK; it is imported only when the command
runs, and its absence is a `UserError` that says which extra to install.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from toolweave.errors import UserError

__all__ = ["mcp_command"]


async def mcp_command(args: argparse.Namespace, console: Console) -> int:
    """``toolweave mcp serve`` (see `toolweave.cli._mcp_serve`), or why it cannot run."""
    try:
        from toolweave.cli._mcp_serve import serve_command
    except ImportError as exc:
        message = f"mcp serve needs the `mcp` extra: pip install 'toolweave[mcp]' ({exc})"
        raise UserError(message) from exc

    return await serve_command(args, console)
