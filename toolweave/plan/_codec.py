"""The plan IR's codec: planned arguments (refs, templates) as JSON and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from toolweave.plan._ir import Arg, Ref, Template

__all__ = ["decode_arg", "encode_arg"]


def encode_arg(value: Arg | Mapping[str, Arg]) -> Any:
    """A planned argument as JSON: a ref is ``{"$ref": N}``, a template ``{"$template": [...]}``."""
    if isinstance(value, Ref):
        return (
            {"$ref": value.task_id, "path": list(value.path)}
            if value.path
            else {"$ref": value.task_id}
        )
    if isinstance(value, Template):
        return {"$template": [encode_arg(part) for part in value.parts]}
    if isinstance(value, list):
        return [encode_arg(item) for item in value]
    if isinstance(value, Mapping):
        return {key: encode_arg(item) for key, item in value.items()}
    return value


def decode_arg(data: Any) -> Arg:
    """The inverse of `encode_arg`."""
    if isinstance(data, dict):
        if set(data) in ({"$ref"}, {"$ref", "path"}):
            return _ref(data)
        if set(data) == {"$template"}:
            parts = tuple(_ref(p) if isinstance(p, dict) else str(p) for p in data["$template"])
            return Template(parts)
        return {str(key): decode_arg(item) for key, item in data.items()}
    if isinstance(data, list):
        return [decode_arg(item) for item in data]
    return cast(Arg, data)


def _ref(data: Mapping[str, Any]) -> Ref:
    path = tuple(step if isinstance(step, int) else str(step) for step in data.get("path", ()))
    return Ref(int(data["$ref"]), path)
