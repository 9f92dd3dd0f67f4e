"""Parameters a plan cannot name: JSON schemas allow any property name, plans do not.

A schema's parameter may be called ``user-name``, ``$top`` or ``2fa`` (OpenAI tools
allow dashes; OData APIs take ``$top``), and a plan line writes ``user-name="x"``,
which no call syntax reads. `Tool.from_schema` renames such parameters to identifiers
(``user_name``, ``top``, ``p_2fa``) in the schema the planner and the validator see,
and its implementation is called with the names its schema used.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["identifier", "plan_names", "with_wire_names"]

_NOT_WORD = re.compile(r"\W+")


def plan_names(schema: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """`schema` with its parameters named as plans write them, and the renamed ones.

    The second value maps each new name to the schema's own (empty: none renamed).
    """
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if all(name.isidentifier() for name in properties):
        return dict(schema), {}
    renamed: dict[str, Any] = {}
    new_name: dict[str, str] = {}
    for wire, sub in properties.items():
        name = wire if wire.isidentifier() else identifier(wire)
        while name != wire and (name in renamed or name in properties):
            name += "_"
        renamed[name] = sub
        new_name[wire] = name
    out = {**schema, "properties": renamed}
    if isinstance(schema.get("required"), list):
        out["required"] = [new_name.get(r, r) for r in schema["required"]]
    return out, {name: wire for wire, name in new_name.items() if name != wire}


def with_wire_names(fn: Callable[..., Any], wire: Mapping[str, str]) -> Callable[..., Any]:
    """`fn`, called with its schema's own parameter names."""
    if not wire:
        return fn
    if inspect.iscoroutinefunction(fn):

        async def call_async(**kwargs: Any) -> Any:
            return await fn(**{wire.get(k, k): v for k, v in kwargs.items()})

        return call_async

    def call(**kwargs: Any) -> Any:
        return fn(**{wire.get(k, k): v for k, v in kwargs.items()})

    return call


def identifier(text: str) -> str:
    """`text` as an identifier: ``user-name`` as ``user_name``, ``2fa`` as ``p_2fa``."""
    name = _NOT_WORD.sub("_", text).strip("_") or "value"
    return f"p_{name}" if name[0].isdigit() else name
