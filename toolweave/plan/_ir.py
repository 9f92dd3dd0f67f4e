"""The plan IR: tasks, references to earlier results, and argument templates.

An argument value is JSON-like (None, bool, int, float, str, list, dict) and may hold:

- a `Ref`, standing for a whole value: the producer's Python object is passed through
  unchanged (a dict stays a dict), or one field or item of it (``$1.price``,
  ``$1.items[0]``);
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
    "FieldError",
    "PlanTask",
    "Ref",
    "Template",
    "format_call",
    "iter_refs",
    "render_text",
    "resolve_args",
]


class FieldError(LookupError):
    """A ref's path names a field or item that its task's result does not have."""


@dataclass(frozen=True, slots=True)
class Ref:
    """The result of task `task_id`, standing for a whole argument value.

    Attributes:
        task_id: The task whose result it is.
        path: Steps into that result, in order: a field or key name (``$1.price``),
            or a list index (``$1.items[0]``); empty for the whole result.
    """

    task_id: int
    path: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return f"${self.task_id}{self.path_text}"

    @property
    def path_text(self) -> str:
        """The path as plan text: ``.name``, ``["key"]`` and ``[index]`` steps."""
        return "".join(
            f".{step}"
            if isinstance(step, str) and step.isidentifier()
            else f"[{json.dumps(step, ensure_ascii=False)}]"
            for step in self.path
        )

    def pick(self, values: Mapping[int, object]) -> object:
        """The value the ref stands for: its task's result, then each step of the path.

        Raises:
            FieldError: A step names a field or item the value does not have.
        """
        value = values[self.task_id]
        for depth, step in enumerate(self.path):
            try:
                value = _step(value, step)
            except FieldError as exc:
                where = Ref(self.task_id, self.path[:depth])
                raise FieldError(f"{where} has no {exc}") from None
        return value


def _step(value: object, step: str | int) -> object:
    """One step of a ref's path into `value`: a key, an attribute or an index."""
    if isinstance(step, int):
        if isinstance(value, list | tuple) and -len(value) <= step < len(value):
            return value[step]
        size = f"a list of {len(value)}" if isinstance(value, list | tuple) else _kind(value)
        raise FieldError(f"item [{step}]: it is {size}")
    if isinstance(value, Mapping):
        if step in value:
            return value[step]
        fields = ", ".join(map(str, list(value)[:12])) or "none"
        raise FieldError(f"field {step!r}; its fields: {fields}")
    declared = getattr(type(value), "model_fields", None) or getattr(
        value, "__dataclass_fields__", None
    )
    if declared is not None and step in declared:
        return getattr(value, step)
    raise FieldError(f"field {step!r}: it is {_kind(value)}")


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | int | float):
        return "a number" if not isinstance(value, bool) else "a boolean"
    return "null" if value is None else type(value).__name__


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
            part if isinstance(part, str) else _interpolated(part, values) for part in self.parts
        )

    def __str__(self) -> str:
        return "".join(str(part) for part in self.parts)


Arg: TypeAlias = bool | int | float | str | Ref | Template | list["Arg"] | dict[str, "Arg"] | None
"""An argument value of a planned call."""


def _interpolated(ref: Ref, values: Mapping[int, object]) -> str:
    """A ref inside a string, as text.

    A path that its value does not have was text that only looked like one (``"$1.txt"``
    where $1 is a file name): it stays text.
    """
    if not ref.path:
        return render_text(values[ref.task_id])
    try:
        return render_text(ref.pick(values))
    except FieldError:
        return render_text(values[ref.task_id]) + ref.path_text


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
        return value.pick(values) if value.path else values[value.task_id]
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

    Raises:
        FieldError: A whole-value ref's path names what its result does not have.
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
