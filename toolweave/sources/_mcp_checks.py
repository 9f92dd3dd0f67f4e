"""Checks on what an MCP server sends, and its failures in words.

Limits given to a source are checked when it is made; a tool whose input schema cannot
check a call is found before it is offered; a failed call is told apart as a dropped
connection or not, and described in a line fit for a model (the SDK's own words for a
capped answer become ours).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import anyio
import httpx2
import jsonschema
import mcp_types
from mcp.shared.exceptions import MCPError

from toolweave.errors import ToolError, UserError
from toolweave.sources._mcp_stdio import size_text
from toolweave.tools import Tool
from toolweave.tools._schema import lenient_types

__all__ = ["behaviour", "check_flags", "check_limits", "describe", "dropped", "unusable"]

_FLAGS = frozenset({"read_only", "idempotent", "destructive"})
_EVENT_LIMIT = re.compile(r"exceeded the (\d+) byte limit")


def behaviour(hints: mcp_types.ToolAnnotations, flags: Mapping[str, bool]) -> dict[str, bool]:
    """A tool's behaviour flags from the server's hints, with `flags` over them.

    A missing hint makes the safe choice: not read-only, not idempotent, destructive.
    """
    read_only = hints.read_only_hint is True
    out = {
        "read_only": read_only,
        "idempotent": read_only or hints.idempotent_hint is True,
        "destructive": not read_only and hints.destructive_hint is not False,
    }
    out.update(flags)
    if out["read_only"]:
        out["destructive"] = False
    return out


def check_flags(flags: Mapping[str, Mapping[str, bool]]) -> dict[str, dict[str, bool]]:
    """A copy of per-tool `flags`; a flag toolweave does not know is a `UserError`."""
    for tool, values in flags.items():
        if unknown := set(values) - _FLAGS:
            raise UserError(f"flags for {tool}: unknown {sorted(unknown)}; use {sorted(_FLAGS)}")
    return {tool: dict(values) for tool, values in flags.items()}


def check_limits(
    *,
    call_timeout: float | None = None,
    connect_timeout: float | None = None,
    max_result_bytes: int | None = None,
) -> None:
    limits = [("call_timeout", call_timeout), ("connect_timeout", connect_timeout)]
    for what, value in limits:
        if value is not None and not value > 0:
            raise UserError(f"{what} must be a positive number of seconds, not {value!r}")
    if max_result_bytes is not None and not (
        isinstance(max_result_bytes, int) and max_result_bytes > 0
    ):
        raise UserError(f"max_result_bytes must be a positive int, not {max_result_bytes!r}")


def unusable(tool: Tool) -> str | None:
    """Why a server's input schema cannot check a call (`None`: it can)."""
    try:
        schema = lenient_types(tool.parameters)
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(
            schema
        ).check_schema(schema)
        tool.validate({})  # a schema that refers to itself may never end
    except ToolError as exc:
        if exc.kind == "unavailable":  # `Tool.validate`: the schema cannot check a call
            return exc.message
        return None  # the empty call is invalid, as it may be: the schema works
    except jsonschema.SchemaError as exc:
        return f"its input schema is invalid: {exc.message[:200]}"
    except Exception as exc:
        return f"its input schema cannot be checked: {type(exc).__name__}"
    return None


def dropped(exc: BaseException) -> bool:
    """Whether a call failed because the connection is gone.

    An answer cut at the cap ends its event stream, which the SDK reports as a closed
    connection; the connection itself serves on, and the same call would be cut again.
    """
    if isinstance(exc, MCPError):
        return exc.code == mcp_types.CONNECTION_CLOSED and not _EVENT_LIMIT.search(exc.message)
    return isinstance(
        exc,
        anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | anyio.EndOfStream
        | httpx2.TransportError
        | ConnectionError,
    )


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return describe(exc.exceptions[0])
    if isinstance(exc, TimeoutError):
        return "it did not answer in time"
    text = exc.message if isinstance(exc, MCPError) else str(exc)
    if (over := _EVENT_LIMIT.search(text)) is not None:  # the SDK's words for the cap
        limit = size_text(int(over[1]))
        return f"the MCP server's answer is larger than {limit} (max_result_bytes)"
    if "(max_result_bytes)" in text:  # ours, behind the SDK's prefix
        return text[text.find("the MCP server's") :]
    if isinstance(exc, MCPError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
