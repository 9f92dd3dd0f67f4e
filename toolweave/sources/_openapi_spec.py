"""Read an OpenAPI 3 document into operations: pure data, no I/O.

Each operation gets a tool name (its ``operationId``, else one made from the method
and the path), a JSON schema of its arguments (path, query and header parameters and
the JSON body's properties, every ``$ref`` resolved), a description, and the schema of
its success response.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolweave.errors import UserError
from toolweave.tools._param_names import identifier

__all__ = ["Argument", "Operation", "operations"]

METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
_NOT_WORD = re.compile(r"\W+")
_MAX_DEPTH = 32
# header parameters a tool argument must not set: OpenAPI ignores the first three (the
# source sets them), and the rest frame the request (a model could smuggle another)
_NOT_PARAMETERS = frozenset(
    {"accept", "content-type", "authorization", "host", "content-length", "transfer-encoding",
     "connection"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Argument:
    """Where one argument of a tool goes in the HTTP request.

    Attributes:
        name: The argument's name in the tool's schema (an identifier).
        location: ``path``, ``query``, ``header``, ``body`` (one property of a JSON
            object body) or ``json`` (the whole body).
        wire: Its name in the request (the parameter's or the property's name).
    """

    name: str
    location: str
    wire: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the spec, ready to become a tool."""

    name: str
    method: str
    path: str
    description: str
    parameters: dict[str, Any]
    arguments: tuple[Argument, ...]
    returns: str | None = None
    return_schema: dict[str, Any] | None = None
    tags: tuple[str, ...] = field(default=())


def operations(spec: Mapping[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI 3 document, in the spec's order.

    Raises:
        UserError: The document is not OpenAPI 3, or an operation is unusable.
    """
    if not str(spec.get("openapi", "")).startswith("3"):
        raise UserError("not an OpenAPI 3 document (its 'openapi' field should be 3.x)")
    resolver = _Resolver(spec)
    out: list[Operation] = []
    seen: set[str] = set()
    for path, item in (spec.get("paths") or {}).items():
        item = resolver.resolve(item)
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                operation = _operation(
                    resolver, path, method, resolver.resolve(item[method]), shared
                )
                name, n = operation.name, 2
                while name in seen:
                    name, n = f"{operation.name}_{n}", n + 1
                seen.add(name)
                out.append(dataclasses.replace(operation, name=name))
    return out


def _operation(
    resolver: _Resolver, path: str, method: str, op: Mapping[str, Any], shared: list[Any]
) -> Operation:
    params: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [*shared, *op.get("parameters", [])]:  # the operation's override the path's
        param = resolver.resolve(raw)
        if param.get("in") in ("path", "query", "header") and not (
            param["in"] == "header" and str(param.get("name", "")).lower() in _NOT_PARAMETERS
        ):
            params[(param["in"], param["name"])] = param
    properties: dict[str, Any] = {}
    required: list[str] = []
    arguments: list[Argument] = []

    def add(wire: str, location: str, schema: dict[str, Any], needed: bool) -> None:
        name = identifier(wire)
        if name in properties:
            name = identifier(f"{location}_{wire}")
        properties[name] = schema
        arguments.append(Argument(name, location, wire))
        if needed:
            required.append(name)

    for (location, wire), param in params.items():
        schema = dict(resolver.inline(param.get("schema", {"type": "string"})))
        if param.get("description"):
            schema["description"] = param["description"]
        add(wire, location, schema, location == "path" or bool(param.get("required")))
    body = resolver.resolve(op.get("requestBody", {}))
    body_schema = _json_schema(resolver, body.get("content", {}))
    if body_schema is not None:
        props = body_schema.get("properties")
        is_object = body_schema.get("type", "object") == "object"
        if (
            is_object
            and isinstance(props, dict)
            and not set(map(identifier, props)) & set(properties)
        ):
            needed = set(body_schema.get("required", ()))
            for wire, schema in props.items():
                add(wire, "body", dict(schema), wire in needed and bool(body.get("required", True)))
        else:
            if body.get("description"):
                body_schema = {**body_schema, "description": body["description"]}
            add("body", "json", body_schema, bool(body.get("required")))
    returns, return_schema = _response(resolver, op.get("responses", {}))
    text = " ".join(p for p in (op.get("summary"), op.get("description")) if p)
    return Operation(
        name=_tool_name(op.get("operationId"), method, path),
        method=method.upper(),
        path=path,
        description=text or f"{method.upper()} {path}",
        parameters={"type": "object", "properties": properties, "required": required},
        arguments=tuple(arguments),
        returns=returns,
        return_schema=return_schema,
        tags=tuple(op.get("tags", ())),
    )


def _json_schema(resolver: _Resolver, content: Mapping[str, Any]) -> dict[str, Any] | None:
    for media, entry in content.items():
        if media.split(";")[0].strip() in ("application/json", "*/*") or media.endswith("+json"):
            return dict(resolver.inline(entry.get("schema", {})))
    return None


def _response(resolver: _Resolver, responses: Mapping[str, Any]) -> tuple[str | None, Any]:
    codes = sorted(c for c in map(str, responses) if c.startswith("2")) or ["default"]
    for code in codes:
        if code in responses or (code == "default" and "default" in responses):
            response = resolver.resolve(responses[code])
            return response.get("description"), _json_schema(resolver, response.get("content", {}))
    return None, None


def _tool_name(operation_id: object, method: str, path: str) -> str:
    raw = str(operation_id) if operation_id else f"{method}_{path.replace('{', 'by_')}"
    name = re.sub("_+", "_", _NOT_WORD.sub("_", raw)).strip("_") or method
    if name[0].isdigit() or name == "join":
        name = f"op_{name}"
    return name[:64]


class _Resolver:
    """Resolves local ``$ref``s (``#/components/...``), inlining them in schemas."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._spec = spec

    def resolve(self, node: Any) -> Any:
        """A node with a top-level ``$ref`` followed (a few levels)."""
        for _ in range(_MAX_DEPTH):
            if not (isinstance(node, Mapping) and "$ref" in node):
                return node
            node = self._target(str(node["$ref"]))
        raise UserError("a $ref chain in the spec is too long (a cycle?)")

    def inline(self, schema: Any, depth: int = 0, seen: tuple[str, ...] = ()) -> Any:
        """A schema with every ``$ref`` replaced by its target; a recursive one stops."""
        if isinstance(schema, Mapping):
            ref = schema.get("$ref")
            if isinstance(ref, str):
                if ref in seen or depth > _MAX_DEPTH:
                    return {"type": "object", "description": f"(recursive: {ref})"}
                return self.inline(self._target(ref), depth + 1, (*seen, ref))
            out = {k: self.inline(v, depth + 1, seen) for k, v in schema.items()}
            if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]  # OpenAPI 3.0's spelling of null
            return out
        if isinstance(schema, list):
            return [self.inline(v, depth + 1, seen) for v in schema]
        return schema

    def _target(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise UserError(f"only local $refs (#/...) are supported, not {ref!r}")
        node: Any = self._spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise UserError(f"the spec's $ref {ref!r} points nowhere")
            node = node[part]
        return node
