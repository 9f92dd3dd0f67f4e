"""`@tool`: a `Tool` from a typed Python function, its docstring and annotations.

Plain functions, sync or async, generator functions (their result is the list of what
they yield), `functools.partial` (its bound arguments are fixed, never shown to the
planner) and objects with ``__call__``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, overload

import pydantic

from toolweave.errors import UserError
from toolweave.tools._collect import collecting
from toolweave.tools._docstring import parse_docstring
from toolweave.tools._tool import Isolation, Tool, ToolFunction

__all__ = ["tool"]


@overload
def tool(fn: ToolFunction, /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    read_only: bool = False,
    idempotent: bool = False,
    destructive: bool = False,
    timeout: float | None = None,
    retries: int = 0,
    max_concurrency: int | None = None,
    isolation: Isolation = "thread",
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[ToolFunction], Tool]: ...
def tool(
    fn: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    read_only: bool = False,
    idempotent: bool = False,
    destructive: bool = False,
    timeout: float | None = None,
    retries: int = 0,
    max_concurrency: int | None = None,
    isolation: Isolation = "thread",
    metadata: Mapping[str, Any] | None = None,
) -> Tool | Callable[[ToolFunction], Tool]:
    """Turn a typed function, sync or async, into a `Tool`; bare or with options.

    A generator function's tool returns the list of what it yields. The name comes
    from the function, the description and the arguments' descriptions
    from its Google-style docstring (``Args:`` section), the parameters' schema from
    its annotations.

    Args:
        fn: The function, when used bare (``@tool``).
        name: The tool's name; the function's name by default.
        description: What it does; the docstring's description by default.
        read_only: Calling it changes nothing (safe to retry and parallelize).
        idempotent: Repeating a call has the effect of one (safe to retry).
        destructive: It needs approval before every call, and is never retried.
        timeout: Seconds allowed per attempt.
        retries: Extra attempts on transient errors (read-only or idempotent only).
        max_concurrency: How many calls of it may run at once.
        isolation: ``"process"`` runs a sync function in a worker process that is
            killed on timeout or cancel; ``"thread"`` (default) on a worker thread.
        metadata: Free-form data kept with the tool.

    Example:
        ```python
        @tool(read_only=True, timeout=5)
        async def population(country: str) -> int:
            '''The population of a country, by its English name.'''
        ```
    """

    def build(func: ToolFunction) -> Tool:
        base, bound, own_name, docstring = _unbound(func)
        doc = parse_docstring(docstring)
        tool_name = name or own_name
        if not tool_name:
            raise UserError(f"{func!r} has no name of its own: give the tool one, tool(name=...)")
        return Tool(
            tool_name,
            description if description is not None else doc.description,
            collecting(func.__call__ if _callable_object(func) else func),  # type: ignore[operator]
            read_only=read_only,
            idempotent=idempotent,
            destructive=destructive,
            timeout=timeout,
            retries=retries,
            max_concurrency=max_concurrency,
            isolation=isolation,
            returns=doc.returns,
            metadata=dict(metadata or {}),
            _params=_params_model(tool_name, base, doc.params, bound),
        )

    return build(fn) if fn is not None else build


def _unbound(func: ToolFunction) -> tuple[ToolFunction, frozenset[str], str, str | None]:
    """The function whose parameters a tool takes, those bound already, name and doc.

    A `functools.partial`'s bound arguments are fixed (an API key, a client): the plan
    neither sees nor sets them. An object with ``__call__`` takes that method's
    parameters, and has no name of its own (``""``).
    """
    bound: set[str] = set()
    while isinstance(func, functools.partial):
        params = list(inspect.signature(func.func).parameters)
        bound |= set(params[: len(func.args)]) | set(func.keywords)
        func = func.func
    if _callable_object(func):
        call: ToolFunction = func.__call__  # type: ignore[operator]
        return call, frozenset(bound), "", call.__doc__ or type(func).__doc__
    return func, frozenset(bound), getattr(func, "__name__", ""), func.__doc__


def _callable_object(func: ToolFunction) -> bool:
    """An instance of a class with ``__call__`` (its method is the implementation)."""
    return not (inspect.isroutine(func) or isinstance(func, type | functools.partial))


def _params_model(
    name: str, func: ToolFunction, docs: Mapping[str, str], bound: frozenset[str] = frozenset()
) -> type[pydantic.BaseModel]:
    try:
        hints = inspect.get_annotations(func, eval_str=True)
    except (NameError, TypeError) as exc:
        raise UserError(f"tool {name}: cannot resolve its type annotations: {exc}") from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.name in bound:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise UserError(f"tool {name}: parameter {param.name!r} must be a named parameter")
        if param.name not in hints:
            raise UserError(f"tool {name}: parameter {param.name!r} needs a type annotation")
        default = ... if param.default is param.empty else param.default
        info = pydantic.Field(default, description=docs.get(param.name))
        fields[param.name] = (hints[param.name], info)
    config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    try:
        return pydantic.create_model(f"{name}_params", __config__=config, **fields)
    except (pydantic.PydanticUserError, NameError, TypeError) as exc:
        raise UserError(f"tool {name}: unusable parameters: {exc}") from exc
