"""toolweave: compile a request into a graph of tool calls and run it in parallel.

The public API is the names below; submodules (`toolweave.plan`, `toolweave.fetcher`,
`toolweave.executor`, `toolweave.tools`, `toolweave.errors`, `toolweave.events`) hold
the rest, each with its own `__all__`.
"""

from toolweave._result import ModelCall, PlanRecord, RunResult
from toolweave.agent import Agent
from toolweave.errors import (
    BudgetExceeded,
    ModelError,
    PlanError,
    ToolError,
    ToolweaveError,
    UserError,
)
from toolweave.executor import LocalExecutor
from toolweave.fetcher import PlanOutcome, Scheduler, TaskState, execute
from toolweave.plan import PlanParser, PlanTask, Ref
from toolweave.tools import Tool, ToolRegistry, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "BudgetExceeded",
    "LocalExecutor",
    "ModelCall",
    "ModelError",
    "PlanError",
    "PlanOutcome",
    "PlanParser",
    "PlanRecord",
    "PlanTask",
    "Ref",
    "RunResult",
    "Scheduler",
    "TaskState",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "ToolweaveError",
    "UserError",
    "__version__",
    "execute",
    "tool",
]
