"""Fit a ref's value to the parameter that takes it, where the plan meant it so.

Small planners write ``search(query=$1)`` meaning "the text of result 1" (the
LLMCompiler format does), ``multiply(a="$1")`` meaning "the number $1 is", and
``multiply(a=$1)`` where $1 is a quote with one number in it. Only values that come
through a ref are fitted, and only where the parameter's schema does not take the
value's own type; a record that holds several numbers, or whose tool does not declare
it, is never guessed at: the error names its fields and the ``$N.field`` that takes one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from toolweave.errors import ToolError
from toolweave.plan import FieldError, PlanTask, Ref, Template, render_text
from toolweave.tools import Tool

__all__ = ["fit_refs"]

_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))
_NUMERIC = frozenset({"number", "integer"})


def fit_refs(
    task: PlanTask,
    args: dict[str, object],
    tool: Tool,
    values: Mapping[int, object],
    producer: Callable[[int], Tool | None] = lambda task_id: None,
) -> dict[str, object]:
    """`args` (resolved) with each ref-given value fitted to its parameter's type.

    - a record, list or number to a parameter that takes text: its text (JSON);
    - a text that is a number ("1100", an answer from the user) to a numeric one: that
      number;
    - a whole record whose `producer` tool declares its fields (`Tool.output_fields`:
      the author said what the record is) to a parameter that takes no record: its
      field of the parameter's own name (``celsius=$1``, $1 a Weather), else, for a
      numeric parameter, its one number if it holds exactly one (an undeclared record
      may hold a count beside an id: it is never guessed at).

    A string that is one ref and nothing else (``"$1"``, ``"$1.price"``) counts as the
    ref itself for a parameter that does not take text.

    Raises:
        ToolError: A record with several numbers (or none) went to a numeric parameter.
    """
    if not task.deps:  # every ref is a dependency: no deps, no refs
        return args
    props = tool.parameters.get("properties", {})
    out = args
    for name, planned in task.args.items():
        kinds = _types(props.get(name))
        ref = _whole_ref(planned, kinds)
        if ref is None:
            continue
        try:
            value = args.get(name) if planned is ref else ref.pick(values)
        except FieldError:  # "$1.txt" of a text: the template's text stands
            continue
        declared = isinstance(value, Mapping) and _declared(producer, ref)
        takes_record = not kinds or "object" in kinds  # no type known: left as it is
        if isinstance(value, Mapping) and declared and not takes_record and name in value:
            value = value[name]  # celsius=$1, $1 a Weather: its celsius
        own = _json_type(value)
        if own in kinds or (own == "integer" and "number" in kinds):
            fitted: object = value
        elif "string" in kinds:
            fitted = render_text(value)
        elif own == "string":
            number = _number(str(value), kinds)
            fitted = value if number is None else number
        elif own == "object" and kinds & _NUMERIC and isinstance(value, Mapping):
            fitted = _one_number(tool.name, name, ref, value, declared)
        else:
            fitted = value
        if fitted is not args.get(name):
            out = {**out, name: fitted}
    return out


def _declared(producer: Callable[[int], Tool | None], ref: Ref) -> bool:
    """Whether the ref is a whole result whose tool declares its fields."""
    source = producer(ref.task_id) if not ref.path else None
    return source is not None and bool(source.output_fields)


def _whole_ref(planned: object, kinds: set[str]) -> Ref | None:
    """The ref that an argument is as a whole: ``$1``, or ``"$1"`` where text is not taken."""
    if isinstance(planned, Ref):
        return planned
    if (
        isinstance(planned, Template)
        and kinds
        and "string" not in kinds
        and len(planned.parts) == 1
    ):
        part = planned.parts[0]
        return part if isinstance(part, Ref) else None
    return None


def _one_number(
    tool: str, name: str, ref: Ref, record: Mapping[object, object], declared: bool
) -> object:
    numbers = [
        (key, v)
        for key, v in record.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if declared and len(numbers) == 1:
        return numbers[0][1]
    fields = ", ".join(map(str, list(record)[:12]))
    # the parameter's own name where the record has it (id=$1.id); never a guess
    example = f"{ref}{Ref(0, (name,)).path_text}" if name in record else f"{ref}.<field>"
    raise ToolError(
        tool,
        f"invalid arguments: argument {name!r}: {ref} is a record ({fields}), not a number: "
        f"take the field it needs, as {example}",
        kind="invalid_arguments",
    )


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "object")


def _types(schema: object) -> set[str]:
    """The JSON types a parameter's schema takes: ``type``, or its ``anyOf`` members'."""
    if not isinstance(schema, dict):
        return set()
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    members = schema.get("anyOf") or schema.get("oneOf") or ()
    return set().union(*(_types(m) for m in members)) if isinstance(members, list) else set()


def _number(text: str, kinds: set[str]) -> int | float | None:
    """`text` as the number a numeric parameter takes (``"1100"`` -> 1100), if it is one."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if "integer" in kinds and value.is_integer():
        return int(value)
    if "number" in kinds and math.isfinite(value):
        return value
    return None
