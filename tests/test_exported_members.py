"""The public API, pinned: a change to it must show up here."""

import toolweave
import toolweave.errors
import toolweave.events
import toolweave.executor
import toolweave.fetcher
import toolweave.plan
import toolweave.tools

EXPECTED = {
    toolweave: [
        "BudgetExceeded",
        "LocalExecutor",
        "ModelError",
        "PlanError",
        "PlanOutcome",
        "PlanParser",
        "PlanTask",
        "Ref",
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
    ],
    toolweave.plan: [
        "END_OF_PLAN",
        "Arg",
        "PlanError",
        "PlanItem",
        "PlanParser",
        "PlanTask",
        "Ref",
        "Template",
        "iter_refs",
        "parse_plan",
        "render_text",
        "resolve_args",
    ],
    toolweave.fetcher: ["PlanOutcome", "Scheduler", "TaskResult", "TaskState", "execute"],
    toolweave.executor: ["Approver", "Executor", "LocalExecutor", "is_transient"],
    toolweave.tools: ["JsonSchema", "Tool", "ToolFunction", "ToolRegistry", "tool"],
    toolweave.errors: [
        "BudgetExceeded",
        "ModelError",
        "PlanError",
        "ToolError",
        "ToolErrorKind",
        "ToolweaveError",
        "UserError",
    ],
}


def test_exported_members() -> None:
    for module, names in EXPECTED.items():
        assert module.__all__ == names, module.__name__
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_error_tree() -> None:
    for cls in (
        toolweave.UserError,
        toolweave.PlanError,
        toolweave.ModelError,
        toolweave.ToolError,
        toolweave.BudgetExceeded,
    ):
        assert issubclass(cls, toolweave.ToolweaveError)
