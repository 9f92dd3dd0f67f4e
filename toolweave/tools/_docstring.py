"""Read a Google-style docstring: the description, the arguments, the return value."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_ARG = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_RETURN_SECTIONS = {"returns", "return", "yields"}
_KNOWN_SECTIONS = (
    _ARG_SECTIONS
    | _RETURN_SECTIONS
    | {
        "raises",
        "example",
        "examples",
        "note",
        "notes",
        "see also",
        "warning",
        "warnings",
        "attributes",
        "todo",
        "references",
    }
)


@dataclass(frozen=True, slots=True)
class Docstring:
    """The parts of a docstring that describe a tool."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: str | None = None


def parse_docstring(doc: str | None) -> Docstring:
    """Split a Google-style docstring into description, argument docs and returns."""
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        match = _SECTION.match(line)
        if match and match.group(1).lower() in _KNOWN_SECTIONS:
            current = sections.setdefault(match.group(1).lower(), [])
        elif current is None:
            description.append(line)
        else:
            current.append(line)
    params: dict[str, str] = {}
    for name in _ARG_SECTIONS & sections.keys():
        params.update(_parse_args(sections[name]))
    returns = next((sections[n] for n in _RETURN_SECTIONS if n in sections), None)
    return Docstring(
        description="\n".join(description).strip(),
        params=params,
        returns=_join(returns) or None if returns is not None else None,
    )


def _parse_args(lines: list[str]) -> dict[str, str]:
    entries: dict[str, list[str]] = {}
    indent: int | None = None
    name: str | None = None
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        match = _ARG.match(line.strip())
        if depth <= indent and match:
            name = match.group(1)
            entries[name] = [match.group(2)]
        elif name is not None:
            entries[name].append(line.strip())
    return {key: _join(value) for key, value in entries.items()}


def _join(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())
