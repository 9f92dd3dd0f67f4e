"""toolweave: compile a request into a graph of tool calls and run it in parallel.

The public API is the names below; public submodules hold the rest, each with its own
`__all__`. From the ground up: `errors`, `redaction`, `storage`; `plan`, `models`,
`tools`; `executor`, `retrieval`, `events`; `fetcher`, `sources`; `planner`, `result`;
`cost`, `session`; `telemetry` (and the private run loop, `_run`); `agent`; `cli`,
`evals`. A module imports only from the layers below it (`tests/package/test_layers.py`).
"""

from toolweave._run import Limits, ResumeLedger
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
from toolweave.result import ModelCall, PendingCall, PlanRecord, RunResult
from toolweave.session import Session, SessionStore
from toolweave.tools import Tool, ToolRegistry, tool
from toolweave.version import __version__

__all__ = [
    "Agent",
    "ApprovalPending",
    "BudgetExceeded",
    "Limits",
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
