"""Tool definitions: `@tool`, `Tool`, the `ToolRegistry` of tools and sources, ``ask_user``.

Finding the right tools among thousands is `toolweave.retrieval`'s job, one layer up.
This package may import `toolweave.errors` only (and the standard library, pydantic,
jsonschema): plans, models, the retriever, sources and the run loop all build on it.
"""

from toolweave.tools._ask_user import AskUser, ask_user_tool
from toolweave.tools._decorator import tool
from toolweave.tools._registry import ToolRegistry, ToolSource
from toolweave.tools._schema import JsonSchema
from toolweave.tools._tool import Tool, ToolFunction

__all__ = [
    "AskUser",
    "JsonSchema",
    "Tool",
    "ToolFunction",
    "ToolRegistry",
    "ToolSource",
    "ask_user_tool",
    "tool",
]
