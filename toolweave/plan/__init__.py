"""The plan IR and the streaming plan parser.

A plan is a list of `PlanTask`s whose arguments may refer to earlier tasks' results
(`Ref`; with a path, one field of one: ``$1.price``) or embed them in text
(`Template`). `PlanParser` reads the LLMCompiler text format while it streams; the
grammar constrains a model to it; the codec writes planned arguments as JSON.

Sans-IO, and a floor of its own: it imports only `toolweave.errors`, and knows tools
through the `ToolLike` protocol it declares (as graphlib knows nodes only as hashables).
"""

from toolweave.errors import PlanError
from toolweave.plan._codec import decode_arg, encode_arg
from toolweave.plan._grammar import Grammar, plan_grammar
from toolweave.plan._ir import (
    Arg,
    FieldError,
    PlanTask,
    Ref,
    Template,
    format_call,
    iter_refs,
    render_text,
    resolve_args,
)
from toolweave.plan._parser import END_OF_PLAN, PlanItem, PlanParser, parse_plan
from toolweave.plan._tool_like import ToolLike

__all__ = [
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
]
