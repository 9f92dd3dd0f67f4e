"""The public API, pinned: a change to it must show up here."""

import typing
from types import ModuleType

import pytest

import toolweave
import toolweave.agent
import toolweave.cost
import toolweave.errors
import toolweave.events
import toolweave.executor
import toolweave.fetcher
import toolweave.models
import toolweave.models.testing
import toolweave.plan
import toolweave.planner
import toolweave.redaction
import toolweave.result
import toolweave.retrieval
import toolweave.session
import toolweave.sources
import toolweave.storage
import toolweave.telemetry
import toolweave.tools

EXPECTED = {
    toolweave: [
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
    ],
    toolweave.plan: [
        "END_OF_PLAN",
        "Arg",
        "FieldError",
        "Grammar",
        "PlanError",
        "PlanItem",
        "PlanParser",
        "PlanTask",
        "Ref",
        "Template",
        "ToolLike",
        "decode_arg",
        "encode_arg",
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
        "fit_refs",
        "task_from_dict",
        "task_to_dict",
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
        "AskUser",
        "JsonSchema",
        "Tool",
        "ToolFunction",
        "ToolRegistry",
        "ToolSource",
        "ask_user_tool",
        "tool",
    ],
    toolweave.retrieval: [
        "Decomposition",
        "Embedder",
        "EnsembleEmbedder",
        "FamilyOf",
        "HashingEmbedder",
        "MPNetEmbedder",
        "MiniLMEmbedder",
        "Mode",
        "ModelReranker",
        "Reranker",
        "Retriever",
        "RetrieverSettings",
        "ScoredTool",
        "WordLlamaEmbedder",
        "by_prefix",
        "by_suffix",
        "decompose",
        "decompose_with_model",
        "default_embedder",
        "family_of",
        "split_name",
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
        "FINISH_GRAMMAR",
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
        "finish_grammar",
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
    toolweave.session: [
        "Runner",
        "Session",
        "SessionInfo",
        "SessionStore",
        "Turn",
        "TurnContext",
        "default_path",
    ],
    toolweave.agent: ["RETRIEVE_ABOVE", "Agent", "AskUser", "Limits", "RunEvents", "ask_user_tool"],
    toolweave.result: ["ModelCall", "PendingCall", "PlanRecord", "RunResult", "RunStatus"],
    toolweave.redaction: [
        "REDACTED",
        "is_secret_name",
        "redact_text",
        "redact_value",
        "register_credentials",
        "register_secret",
    ],
    toolweave.storage: [
        "MAC_FIELD",
        "canonical",
        "jsonable",
        "open_private",
        "private_dir",
        "private_file",
        "sign",
        "state_dir",
        "tighten",
        "verify",
    ],
    toolweave.telemetry: ["SpanRecorder", "Telemetry", "console_provider"],
    toolweave.events: [
        "ApprovalRequested",
        "Event",
        "EventQueue",
        "EventSink",
        "JoinDecided",
        "PlanFinished",
        "PlanRejectedLine",
        "ProgressReporter",
        "Replanned",
        "RunEvents",
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
    toolweave.sources: ["MCPSource", "OpenAPISource", "parse_spec", "registry_from_specs"],
    toolweave.errors: [
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
    assert issubclass(toolweave.StateError, toolweave.UserError)


def _public_names(module: ModuleType) -> set[str]:
    """The public names a module offers: a package's re-exports, a module's own defs."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, ModuleType) or name == "annotations":
            continue
        if isinstance(value, type(typing)) or getattr(typing, name, None) is value:
            continue
        if module.__name__ in _PACKAGES:
            if getattr(value, "__module__", module.__name__).startswith(module.__name__):
                names.add(name)  # re-exported from the package's own modules
        elif getattr(value, "__module__", None) == module.__name__:
            names.add(name)  # a class or function defined here
    return names


_PACKAGES = {m.__name__ for m in EXPECTED if hasattr(m, "__path__")}


@pytest.mark.parametrize("module", list(EXPECTED), ids=lambda m: m.__name__)
def test_every_public_name_is_in_all(module: ModuleType) -> None:
    missing = _public_names(module) - set(module.__all__)
    assert missing == set(), f"{module.__name__}: public but not in __all__: {sorted(missing)}"
