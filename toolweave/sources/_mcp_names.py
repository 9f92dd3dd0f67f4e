"""Names for MCP servers and their tools, and the credentials a source is given.

A stdio server is named after its command: the program, or for an interpreter or a
package runner, the module or script it runs (``python -m mcp_server_time``,
``npx @scope/server-memory``), never an argument of the server's own. Tool names
become valid, unique toolweave names. Header and environment values that look like
credentials are registered as secrets, so that no sink shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import PurePath

__all__ = ["command_name", "identifier", "valid_names"]

_NOT_WORD = re.compile(r"\W")
_LAUNCHER = re.compile(
    r"(python|pypy)[\d.]*(\.exe)?|node(js)?|deno|bunx?|npx|pnpm|npm|yarn|uvx?|pipx|poetry"
    r"|java|ruby|php|perl|sh|bash|zsh|env"
)
_SUBCOMMANDS = frozenset({"run", "exec", "x", "dlx", "tool"})
_TAKES_VALUE = frozenset({"-X", "-W", "-c", "--from", "--with", "--python", "-p", "--package"})


def identifier(text: str) -> str:
    """`text` as a word that can prefix tool names (``mcp-time`` -> ``mcp_time``)."""
    return _NOT_WORD.sub("_", text) or "mcp"


def command_name(argv: Sequence[str]) -> tuple[str, str]:
    """The identifier of a stdio server and how messages name it, from its command."""
    program = PurePath(argv[0]).name
    if not _LAUNCHER.fullmatch(program):
        return identifier(program.removesuffix(".exe")), program
    rest: Iterator[str] = iter(argv[1:])
    for arg in rest:
        if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            module = arg[2:] or next(rest, "")
            return identifier(module or program), f"{program} -m {module}".rstrip()
        if arg in _TAKES_VALUE:
            next(rest, None)
        elif not arg.startswith("-") and arg not in _SUBCOMMANDS:
            script = PurePath(arg)
            return identifier(script.stem or arg), f"{program} {script.name or arg}"
    return identifier(program), program


def valid_names(names: Sequence[str]) -> list[str]:
    """Valid, unique toolweave names for MCP tool names (which may hold ``-`` and ``.``)."""
    out: list[str] = []
    seen: set[str] = set()
    for original in names:
        base = _NOT_WORD.sub("_", original)[:60] or "tool"
        if base[0].isdigit() or base == "join":
            base = f"t_{base}"
        name, n = base, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append(name)
    return out
