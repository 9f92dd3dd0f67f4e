"""Executors: where tool calls run. `LocalExecutor` is the default."""

from toolweave.executor._local import Approver, Executor, LocalExecutor, is_transient

__all__ = ["Approver", "Executor", "LocalExecutor", "is_transient"]
