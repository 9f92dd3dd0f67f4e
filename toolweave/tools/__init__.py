"""Tools: `@tool`, `Tool`, and the `ToolRegistry` that holds them."""

from toolweave.tools._registry import ToolRegistry
from toolweave.tools._schema import JsonSchema
from toolweave.tools._tool import Tool, ToolFunction, tool

__all__ = ["JsonSchema", "Tool", "ToolFunction", "ToolRegistry", "tool"]
