"""Generator functions as tools: the result is the list of what they yield.

A generator object is no result a plan can use (`$1[0]` of it fails, and the joiner
would read ``<generator object ...>``), so `@tool` wraps a generator function, sync
or async, in a function that runs it to the end and returns its items. The wrapper
keeps the function's name, module and parameters (a worker process imports it by
them), and its return annotation reads ``list[T]`` for ``Iterator[T]``.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, cast

__all__ = ["collecting"]

_GENERATORS = {
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
}


def collecting(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` itself, or for a generator function one that returns its items as a list."""
    wrapper: Any
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def collect_async(*args: Any, **kwargs: Any) -> list[Any]:
            return [item async for item in func(*args, **kwargs)]

        wrapper = collect_async
    elif inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def collect(*args: Any, **kwargs: Any) -> list[Any]:
            return list(func(*args, **kwargs))

        wrapper = collect
    else:
        return func
    try:
        signature = inspect.signature(func, eval_str=True)
    except (NameError, TypeError):  # an annotation that does not resolve: say nothing
        signature = inspect.signature(func).replace(return_annotation=inspect.Signature.empty)
    returns = _as_list(signature.return_annotation)
    wrapper.__signature__ = signature.replace(return_annotation=returns)
    annotations = {
        p.name: p.annotation for p in signature.parameters.values() if p.annotation is not p.empty
    }
    if returns is not inspect.Signature.empty:
        annotations["return"] = returns
    wrapper.__annotations__ = annotations  # resolved: they are read from another module
    return cast(Callable[..., Any], wrapper)


def _as_list(annotation: Any) -> Any:
    """``list[T]`` for ``Iterator[T]``, ``AsyncGenerator[T, None]`` and the like."""
    origin = typing.get_origin(annotation) or annotation
    if origin not in _GENERATORS:
        return inspect.Signature.empty
    args = typing.get_args(annotation)
    return list[args[0]] if args else list  # type: ignore[valid-type]
