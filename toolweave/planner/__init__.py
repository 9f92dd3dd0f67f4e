"""The planner (writes plans, parsed while they stream) and the joiner (answers or replans)."""

from toolweave.planner._joiner import Decision, Finish, Joiner, JoinReply, Replan, parse_join
from toolweave.planner._planner import PlanDraft, Planner
from toolweave.planner._prompts import DEFAULT_EXAMPLES, joiner_messages, planner_messages

__all__ = [
    "DEFAULT_EXAMPLES",
    "Decision",
    "Finish",
    "JoinReply",
    "Joiner",
    "PlanDraft",
    "Planner",
    "Replan",
    "joiner_messages",
    "parse_join",
    "planner_messages",
]
