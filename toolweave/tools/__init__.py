"""Tools: `@tool`, `Tool`, the `ToolRegistry` that holds them and their sources, the `Retriever`."""

from toolweave.tools._decompose import Decomposition, decompose, decompose_with_model
from toolweave.tools._embedders import (
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    WordLlamaEmbedder,
    default_embedder,
)
from toolweave.tools._registry import ToolRegistry, ToolSource
from toolweave.tools._retriever import Retriever, ScoredTool
from toolweave.tools._schema import JsonSchema
from toolweave.tools._text import split_name, tool_document
from toolweave.tools._tool import Tool, ToolFunction, tool

__all__ = [
    "Decomposition",
    "Embedder",
    "HashingEmbedder",
    "JsonSchema",
    "MiniLMEmbedder",
    "Retriever",
    "ScoredTool",
    "Tool",
    "ToolFunction",
    "ToolRegistry",
    "ToolSource",
    "WordLlamaEmbedder",
    "decompose",
    "decompose_with_model",
    "default_embedder",
    "split_name",
    "tool",
    "tool_document",
]
