"""toolweave: compile a request into a graph of tool calls and run it in parallel.

The public API is the names below; submodules (`toolweave.plan`, `toolweave.fetcher`,
`toolweave.executor`, `toolweave.tools`, `toolweave.errors`, `toolweave.events`,
`toolweave.session`, `toolweave.cost`, `toolweave.telemetry`) hold
the rest, each with its own `__all__`.
"""

from toolweave._result import ModelCall, PendingCall, PlanRecord, RunResult
from toolweave._resume import ResumeLedger
from toolweave.agent import Agent
from toolweave.cost import Price, PriceTable
from toolweave.errors import (
    ApprovalPending,
    BudgetExceeded,
    ModelError,
    OutputError,
    PlanError,
    StateError,
    ToolError,
    ToolweaveError,
    UserError,
)
from toolweave.executor import LocalExecutor
from toolweave.fetcher import PlanOutcome, Scheduler, TaskState, execute
from toolweave.plan import PlanParser, PlanTask, Ref
from toolweave.session import Session, SessionStore
from toolweave.tools import Tool, ToolRegistry, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "ApprovalPending",
    "BudgetExceeded",
    "LocalExecutor",
    "ModelCall",
    "ModelError",
    "OutputError",
    "PendingCall",
    "PlanError",
    "PlanOutcome",
    "PlanParser",
    "PlanRecord",
    "PlanTask",
    "Price",
    "PriceTable",
    "Ref",
    "ResumeLedger",
    "RunResult",
    "Scheduler",
    "Session",
    "SessionStore",
    "StateError",
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
