"""The exception tree of toolweave, split by who is at fault.

```
ToolweaveError
 +-- UserError            the application developer misused the API
 |    +-- StateError      a saved run state is malformed, tampered with or spent
 +-- PlanError            the model's plan is unusable (parse, unknown tool, bad ref)
 |    +-- OutputError     the answer does not match the requested output type
 +-- ModelError           the model endpoint failed (HTTP, timeout, malformed stream)
 +-- ToolError            a tool call failed (timeout, exception, invalid arguments)
 |    +-- ApprovalPending a destructive call waits for a person's approval
 +-- BudgetExceeded       replans, tokens, time or tasks over the run's limits
```

Errors that come from the model's output or from tools are usually not raised at the
caller: they travel as values (in events and results) so that a run can go on and the
joiner can see them. Foreign exceptions are translated at the boundary with
`raise X(...) from exc`, so the original stays on `__cause__`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from toolweave.result import RunResult

__all__ = [
    "ApprovalPending",
    "BudgetExceeded",
    "ModelError",
    "OutputError",
    "PlanError",
    "StateError",
    "ToolError",
    "ToolErrorKind",
    "ToolweaveError",
    "UserError",
]


class ToolweaveError(Exception):
    """Base class of every error that toolweave raises on purpose.

    Attributes:
        result: When the error ended an agent run, what the run had done until then.
    """

    result: RunResult | None = None


class UserError(ToolweaveError):
    """The application developer misused the API (bad tool definition, bad argument)."""


class StateError(UserError):
    """A run's saved state cannot be resumed as given.

    It is malformed (an unknown status, a pending call that is no task), it does not
    match what was approved (a call rebuilt from it differs from the pending call that
    was shown), its MAC does not verify, or its pause was resumed already.
    """


class PlanError(ToolweaveError):
    """A line of the model's plan is unusable.

    Attributes:
        reason: Why the line was rejected, in words a model can act on.
        line: The offending line of plan text, as the model wrote it.
        task_id: The id the line claimed, when it could be read; tasks that depend on
            it are skipped.
    """

    def __init__(self, reason: str, *, line: str = "", task_id: int | None = None) -> None:
        self.reason = reason
        self.line = line
        self.task_id = task_id
        super().__init__(f"{reason}: {line!r}" if line else reason)


class ModelError(ToolweaveError):
    """The model endpoint failed: HTTP errors, timeouts, malformed or broken streams."""


ToolErrorKind = Literal[
    "invalid_arguments", "timeout", "exception", "refused", "unavailable", "pending_approval"
]


class ToolError(ToolweaveError):
    """A tool call failed.

    Attributes:
        tool: The tool's name.
        arguments: The arguments of the failed call (after refs were resolved).
        kind: What went wrong: ``invalid_arguments``, ``timeout``, ``exception``,
            ``refused`` (a destructive tool without approval), ``unavailable``
            (the tool has no implementation) or ``pending_approval`` (no answer yet).
        message: A one-line description, fit to show to a model.
        attempts: How many attempts were made.
    """

    def __init__(
        self,
        tool: str,
        message: str,
        *,
        args: Mapping[str, object] | None = None,
        kind: ToolErrorKind = "exception",
        attempts: int = 1,
    ) -> None:
        self.tool = tool
        self.arguments = dict(args or {})
        self.kind: ToolErrorKind = kind
        self.message = message
        self.attempts = attempts
        super().__init__(f"{tool}: {message}")


class OutputError(PlanError):
    """The joiner's answer does not match the requested output type, even after a repair.

    Attributes:
        text: The answer as the joiner last wrote it.
        problem: What did not match (pydantic's validation message).
    """

    def __init__(self, problem: str, *, text: str) -> None:
        self.text = text
        self.problem = problem
        super().__init__(f"the answer does not match the output type: {problem}", line=text)


class ApprovalPending(ToolError):
    """A destructive call needs an approval that nobody has given yet: the run pauses.

    Raised by an executor when the approver answers ``None`` (or ``approve="pause"``);
    the run finishes what does not depend on the call, then ends ``paused``.
    """

    def __init__(self, tool: str, *, args: Mapping[str, object] | None = None) -> None:
        super().__init__(tool, "waiting for approval", args=args, kind="pending_approval")


class BudgetExceeded(ToolweaveError):
    """A run went over one of its limits (replans, tokens, wall time, tasks)."""
