"""JSON schema helpers: OpenAI strict mode, and type text for signatures in prompts."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["JsonSchema", "lenient_types", "strict_schema", "takes_null", "type_text"]

JsonSchema = dict[str, Any]
"""A JSON schema document, as a dict."""

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


_JSON_TYPES = frozenset({*_SCALARS, "array", "object"})


def lenient_types(schema: Mapping[str, Any]) -> JsonSchema:
    """A copy of `schema` whose type names a validator knows.

    Published tool specs write ``"String"`` or ``"Integer"``; JSON Schema's names are
    lower case, and a validator rejects every call against an unknown one. Known names
    are lower-cased; a ``type`` that names no JSON type is dropped (anything goes).
    """

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: fix(value) for key, value in node.items()}
        kind = out.get("type")
        names = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else None
        if names is not None:
            known = [n.lower() for n in names if isinstance(n, str) and n.lower() in _JSON_TYPES]
            if not known:
                del out["type"]
            else:
                out["type"] = known if isinstance(kind, list) else known[0]
        return out

    fixed: JsonSchema = fix(dict(schema))
    return fixed


def strict_schema(schema: Mapping[str, Any]) -> JsonSchema | None:
    """Rewrite an object schema for OpenAI's strict mode, or `None` if it cannot be.

    Strict mode wants every object closed (``additionalProperties: false``) with every
    property required; an optional property becomes required and nullable. A free-form
    object (no ``properties``) cannot be expressed, hence `None`.
    """
    out = copy.deepcopy(dict(schema))
    try:
        _strict(out)
    except _NotStrict:
        return None
    return out


class _NotStrict(Exception):
    pass


def _strict(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _strict(item)
        return
    if not isinstance(node, dict):
        return
    for key in ("title", "default", "examples"):
        node.pop(key, None)
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node:
        props = node.get("properties")
        if not isinstance(props, dict) or node.get("additionalProperties") not in (None, False):
            raise _NotStrict
        required = set(node.get("required", ()))
        for name, prop in props.items():
            if name not in required and isinstance(prop, dict):
                props[name] = _nullable(prop)
        node["required"] = list(props)
        node["additionalProperties"] = False
    for key in ("properties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            for item in node[key].values():
                _strict(item)
    for key in ("items", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in node:
            _strict(node[key])


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    kind = prop.get("type")
    if "anyOf" in prop:
        if {"type": "null"} not in prop["anyOf"]:
            prop["anyOf"].append({"type": "null"})
        return prop
    if isinstance(kind, str) and "enum" not in prop:
        prop["type"] = [kind, "null"] if kind != "null" else kind
        return prop
    if isinstance(kind, list):
        if "null" not in kind:
            prop["type"] = [*kind, "null"]
        if "enum" in prop and None not in prop["enum"]:
            prop["enum"] = [*prop["enum"], None]
        return prop
    return {"anyOf": [prop, {"type": "null"}]}


def takes_null(schema: Mapping[str, Any]) -> bool:
    """Whether `schema` may accept ``null``: a null type, ``nullable``, or no type at all.

    A ``$ref`` or an ``allOf`` it cannot see into counts as a type (no null).
    """
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if schema.get("nullable") is True or None in schema.get("enum", ()):
        return True
    if "const" in schema:
        return schema["const"] is None
    branches = [*schema.get("anyOf", ()), *schema.get("oneOf", ())]
    if branches:
        return any(isinstance(b, Mapping) and takes_null(b) for b in branches)
    return kind is None and "$ref" not in schema and "allOf" not in schema and "enum" not in schema


def type_text(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> str:
    """A Python-like type for a schema, as planners read best: ``list[str] | None``."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        target = defs.get(name) if isinstance(defs, Mapping) else None
        return type_text(target, defs) if isinstance(target, Mapping) and "enum" in target else name
    if "enum" in schema:
        return (
            "Literal[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"]) + "]"
        )
    if "const" in schema:
        return f"Literal[{json.dumps(schema['const'], ensure_ascii=False)}]"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(type_text(s, defs) for s in schema[key]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(type_text({**schema, "type": k}, defs) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return f"list[{type_text(items, defs)}]" if isinstance(items, Mapping) else "list"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and "properties" not in schema:
            return f"dict[str, {type_text(extra, defs)}]"
        return "dict"
    if isinstance(kind, str):
        return _SCALARS.get(kind, kind)
    return "Any"
