"""Tools: `@tool`, `Tool`, the `ToolRegistry` that holds them and their sources, the `Retriever`."""

from toolweave.tools._decompose import Decomposition, decompose, decompose_with_model
from toolweave.tools._decorator import tool
from toolweave.tools._embedders import (
    Embedder,
    EnsembleEmbedder,
    HashingEmbedder,
    MiniLMEmbedder,
    WordLlamaEmbedder,
    default_embedder,
)
from toolweave.tools._families import FamilyOf, by_prefix, by_suffix, family_of
from toolweave.tools._mpnet import MPNetEmbedder
from toolweave.tools._registry import ToolRegistry, ToolSource
from toolweave.tools._rerank import ModelReranker, Reranker
from toolweave.tools._retriever import Retriever, ScoredTool
from toolweave.tools._schema import JsonSchema
from toolweave.tools._text import split_name, tool_document
from toolweave.tools._tool import Tool, ToolFunction

__all__ = [
    "Decomposition",
    "Embedder",
    "EnsembleEmbedder",
    "FamilyOf",
    "HashingEmbedder",
    "JsonSchema",
    "MPNetEmbedder",
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
]
