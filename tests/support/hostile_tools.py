"""Tools whose output is hostile to a terminal: markup, escape sequences, plan text."""

from __future__ import annotations

from toolweave import ToolRegistry, tool

HOSTILE = "[/x] [red]red[/red] \x1b[2J\x1b]0;pwned\x07 [link=file:///etc]x[/link]"


@tool(read_only=True)
def fetch(item: str) -> str:
    """Fetch an item's text."""
    return f"{item}: {HOSTILE}"


TOOLS = ToolRegistry([fetch])
