"""The plan IR: tasks, references to earlier results, and argument templates.

An argument value is JSON-like (None, bool, int, float, str, list, dict) and may hold:

- a `Ref`, standing for a whole value: the producer's Python object is passed through
  unchanged (a dict stays a dict);
- a `Template`, a string with refs inside (``"population of $1"``): the values are
  interpolated as text, dicts and lists as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = [
    "Arg",
    "PlanTask",
    "Ref",
    "Template",
    "format_call",
    "iter_refs",
    "render_text",
    "resolve_args",
]


@dataclass(frozen=True, slots=True)
class Ref:
    """The result of task `task_id`, standing for a whole argument value."""

    task_id: int

    def __str__(self) -> str:
        return f"${self.task_id}"


@dataclass(frozen=True, slots=True)
class Template:
    """A string argument with refs inside, rendered as text once the refs resolve.

    Attributes:
        parts: Literal text and refs, in order.
    """

    parts: tuple[str | Ref, ...]

    def render(self, values: Mapping[int, object]) -> str:
        """Interpolate the referenced values as text."""
        return "".join(
            part if isinstance(part, str) else render_text(values[part.task_id])
            for part in self.parts
        )

    def __str__(self) -> str:
        return "".join(str(part) for part in self.parts)


Arg: TypeAlias = bool | int | float | str | Ref | Template | list["Arg"] | dict[str, "Arg"] | None
"""An argument value of a planned call."""


def render_text(value: object) -> str:
    """Render a task's value for interpolation into a string: JSON for containers."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def iter_refs(value: Arg | Mapping[str, Arg]) -> Iterator[Ref]:
    """Yield every ref in an argument value, templates and containers included."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Template):
        for part in value.parts:
            if isinstance(part, Ref):
                yield part
    elif isinstance(value, list):
        for item in value:
            yield from iter_refs(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from iter_refs(item)


def _resolve(value: Arg, values: Mapping[int, object]) -> object:
    if isinstance(value, Ref):
        return values[value.task_id]
    if isinstance(value, Template):
        return value.render(values)
    if isinstance(value, list):
        return [_resolve(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(item, values) for key, item in value.items()}
    return value


def resolve_args(args: Mapping[str, Arg], values: Mapping[int, object]) -> dict[str, object]:
    """Replace the refs in `args` by the values of the tasks they name.

    Args:
        args: A task's arguments.
        values: The results of finished tasks, by id; every ref in `args` must be there.

    Returns:
        The arguments, ready for validation and the call.
    """
    return {name: _resolve(value, values) for name, value in args.items()}


@dataclass(frozen=True, slots=True)
class PlanTask:
    """One planned tool call.

    Attributes:
        id: Unique and increasing within a run; numbering continues across replans.
        tool: The name of the tool to call.
        args: The call's arguments, by parameter name; may hold refs and templates.
        deps: The ids of the tasks this one waits for: every ref in `args`, plus any
            extra ordering edges given explicitly.
        thought: The planner's reasoning for this step, when it wrote one.
    """

    id: int
    tool: str
    args: Mapping[str, Arg] = field(default_factory=dict)
    deps: frozenset[int] = frozenset()
    thought: str | None = None

    def __post_init__(self) -> None:
        refs = {ref.task_id for ref in iter_refs(self.args)}
        if not refs <= self.deps:
            object.__setattr__(self, "deps", self.deps | refs)

    def __str__(self) -> str:
        return f"{self.id}. {self.call_text()}"

    def call_text(self) -> str:
        """The call in plan text syntax, e.g. ``search(query="x", limit=$1)``."""
        return f"{self.tool}({', '.join(f'{k}={_arg_text(v)}' for k, v in self.args.items())})"


def _arg_text(value: Arg) -> str:
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, Template):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_arg_text(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}: {_arg_text(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def format_call(tool: str, args: Mapping[str, object]) -> str:
    """A call with resolved (plain Python) arguments, in plan syntax: ``f(x="a", n=2)``."""
    parts = (f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in args.items())
    return f"{tool}({', '.join(parts)})"
