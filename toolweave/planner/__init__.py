"""The planner (writes plans, parsed while they stream) and the joiner (answers or replans).

Also their prompts and worked examples. Layer: imports `fetcher` (the task records a
joiner reads), `tools`, `models`, `plan` and `errors`; nothing above.
"""

from toolweave.planner._examples import ExampleCall, WorkedExample, plan_examples
from toolweave.planner._joiner import (
    FINISH_GRAMMAR,
    Decision,
    Finish,
    Joiner,
    JoinerProtocol,
    JoinReply,
    Replan,
    finish_grammar,
    parse_join,
)
from toolweave.planner._observe import render_value
from toolweave.planner._planner import PlanDraft, Planner, PlannerProtocol
from toolweave.planner._prompts import (
    DEFAULT_EXAMPLES,
    EarlierPlan,
    Prompts,
    joiner_messages,
    planner_messages,
)

__all__ = [
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
]
