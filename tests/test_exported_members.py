"""The public API, pinned: a change to it must show up here."""

import toolweave
import toolweave.cost
import toolweave.errors
import toolweave.events
import toolweave.executor
import toolweave.fetcher
import toolweave.models
import toolweave.models.testing
import toolweave.plan
import toolweave.planner
import toolweave.session
import toolweave.sources
import toolweave.telemetry
import toolweave.tools

EXPECTED = {
    toolweave: [
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
        "RunResult",
        "Scheduler",
        "Session",
        "SessionStore",
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
        "Grammar",
        "PlanError",
        "PlanItem",
        "PlanParser",
        "PlanTask",
        "Ref",
        "Template",
        "format_call",
        "iter_refs",
        "parse_plan",
        "plan_grammar",
        "render_text",
        "resolve_args",
    ],
    toolweave.fetcher: [
        "CallMemo",
        "PlanOutcome",
        "Scheduler",
        "TaskResult",
        "TaskState",
        "execute",
    ],
    toolweave.executor: [
        "Approver",
        "Executor",
        "LocalExecutor",
        "RayExecutor",
        "RayOptions",
        "WorkerLost",
        "is_transient",
    ],
    toolweave.tools: [
        "Decomposition",
        "Embedder",
        "FamilyOf",
        "HashingEmbedder",
        "JsonSchema",
        "MiniLMEmbedder",
        "ModelReranker",
        "Reranker",
        "Retriever",
        "ScoredTool",
        "Tool",
        "ToolFunction",
        "ToolRegistry",
        "ToolSource",
        "WordLlamaEmbedder",
        "by_prefix",
        "by_suffix",
        "decompose",
        "decompose_with_model",
        "default_embedder",
        "family_of",
        "split_name",
        "tool",
        "tool_document",
    ],
    toolweave.models: [
        "LocalModel",
        "Message",
        "Model",
        "ModelSettings",
        "ModelStream",
        "OpenAIModel",
        "RecordedCall",
        "RecordingModel",
        "ReplayModel",
        "ToolCallRequest",
        "ToolCallingModel",
        "ToolTurn",
        "Usage",
        "read_record",
        "recording",
        "resolve_model",
    ],
    toolweave.models.testing: ["FunctionModel", "ScriptedModel", "estimate_tokens"],
    toolweave.planner: [
        "DEFAULT_EXAMPLES",
        "Decision",
        "EarlierPlan",
        "ExampleCall",
        "Finish",
        "JoinReply",
        "Joiner",
        "JoinerProtocol",
        "PlanDraft",
        "Planner",
        "PlannerProtocol",
        "Prompts",
        "Replan",
        "WorkedExample",
        "joiner_messages",
        "parse_join",
        "plan_examples",
        "planner_messages",
        "render_value",
    ],
    toolweave.cost: [
        "FREE",
        "PRICES",
        "Price",
        "PriceTable",
        "cached_tokens",
        "check_cost",
        "price_calls",
    ],
    toolweave.session: ["Session", "SessionInfo", "SessionStore", "Turn", "TurnContext"],
    toolweave.telemetry: ["SpanRecorder", "Telemetry", "console_provider"],
    toolweave.events: [
        "ApprovalRequested",
        "Event",
        "EventSink",
        "JoinDecided",
        "PlanFinished",
        "PlanRejectedLine",
        "ProgressReporter",
        "Replanned",
        "RunFinished",
        "RunStarted",
        "TaskEvent",
        "TaskFailed",
        "TaskPlanned",
        "TaskProgress",
        "TaskSkipped",
        "TaskStarted",
        "TaskSucceeded",
        "ToolsRetrieved",
        "progress_reporter",
        "report_progress",
        "task_scope",
    ],
    toolweave.sources: ["MCPSource", "OpenAPISource", "parse_spec"],
    toolweave.errors: [
        "ApprovalPending",
        "BudgetExceeded",
        "ModelError",
        "OutputError",
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
