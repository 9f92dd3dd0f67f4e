"""Executors: where tool calls run. `LocalExecutor` is the default.

`RayExecutor` and `RayOptions` (the ``ray`` extra) are imported on first use, so that
``import toolweave`` never imports Ray.

Layer: imports `tools` and `errors` only (the fetcher, above, drives it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolweave.executor._local import Approver, Executor, LocalExecutor, is_transient

if TYPE_CHECKING:
    from toolweave.executor._ray import RayExecutor, RayOptions, WorkerLost

__all__ = [
    "Approver",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "RayOptions",
    "WorkerLost",
    "is_transient",
]

_RAY_NAMES = frozenset({"RayExecutor", "RayOptions", "WorkerLost"})


def __getattr__(name: str) -> object:
    if name in _RAY_NAMES:
        try:
            from toolweave.executor import _ray
        except ImportError as exc:
            from toolweave.errors import UserError

            raise UserError(f"{name} needs Ray: pip install 'toolweave[ray]' ({exc})") from exc
        return getattr(_ray, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
