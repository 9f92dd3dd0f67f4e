"""The fields of a tool's result, where the tool declares them.

From a return schema (an object's properties, with those of its ``allOf`` parts and a
``$defs`` reference followed) or from a return annotation that is a TypedDict, a
pydantic model or a dataclass. A plan takes one field of a result as ``$N.name``.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from toolweave.tools._schema import type_text

__all__ = ["annotation_text", "declared_fields", "fields_text", "schema_fields"]

SHOWN_FIELDS = 12
"""A signature lists at most this many fields of a result."""
_MAX_DEPTH = 8


def fields_text(fields: Mapping[str, str]) -> str:
    """A record's fields as a signature shows them: ``{city: str, celsius: float}``."""
    shown = [f"{name}: {kind}" for name, kind in list(fields.items())[:SHOWN_FIELDS]]
    more = ", ..." if len(fields) > SHOWN_FIELDS else ""
    return f"{{{', '.join(shown)}{more}}}"


def schema_fields(schema: Mapping[str, Any]) -> dict[str, str]:
    """The fields of an object schema, each with its type as planners read it."""
    defs = schema.get("$defs", {})
    return {
        str(name): type_text(prop, defs) if isinstance(prop, Mapping) else "Any"
        for name, prop in _properties(schema, defs).items()
    }


def _properties(schema: Mapping[str, Any], defs: Any, depth: int = 0) -> dict[str, Any]:
    """An object schema's properties, with those of the parts it is composed of (allOf)."""
    if depth > _MAX_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and isinstance(defs, Mapping):
        target = defs.get(ref.rsplit("/", 1)[-1])
        return _properties(target, defs, depth + 1) if isinstance(target, Mapping) else {}
    props = schema.get("properties")
    fields = dict(props) if isinstance(props, Mapping) else {}
    for part in schema.get("allOf", ()):
        if isinstance(part, Mapping):
            fields.update(_properties(part, defs, depth + 1))
    return fields


def declared_fields(fn: Callable[..., Any]) -> dict[str, str]:
    """The fields of `fn`'s return annotation, where it declares them, with their types."""
    try:
        hint = inspect.get_annotations(fn, eval_str=True).get("return")
        if not isinstance(hint, type):
            return {}
        if issubclass(hint, dict) and hasattr(hint, "__required_keys__"):  # a TypedDict
            types = typing.get_type_hints(hint)
        elif dataclasses.is_dataclass(hint):
            hints = typing.get_type_hints(hint)
            types = {f.name: hints.get(f.name, Any) for f in dataclasses.fields(hint)}
        elif issubclass(hint, pydantic.BaseModel):
            types = {name: f.annotation for name, f in hint.model_fields.items()}
        else:
            return {}
    except (NameError, TypeError):  # an annotation that does not resolve
        return {}
    return {name: annotation_text(kind) for name, kind in types.items()}


def annotation_text(annotation: Any) -> str:
    """A type annotation as planners read it: ``int``, ``list[str]``."""
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
