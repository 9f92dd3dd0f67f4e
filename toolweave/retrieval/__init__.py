"""Tool retrieval: the Toolshed-style `Retriever` that picks a request's tools out of thousands.

An index of enhanced tool documents searched by BM25 and dense embeddings, fused;
families, diversity (MMR), a second-stage reranker, example questions, query
decomposition, learning from use, and persistence. `Retriever` is the facade; the
ranking stages are small functions over one candidate state (`_stages`).

Layer: above `toolweave.tools` (what it indexes) and `toolweave.models` (the models
that write example questions, split requests and rerank). It may import those,
`toolweave.errors` and `toolweave.storage`, nothing higher.
"""

from toolweave.retrieval._decompose import Decomposition, decompose, decompose_with_model
from toolweave.retrieval._embedders import (
    Embedder,
    EnsembleEmbedder,
    HashingEmbedder,
    MiniLMEmbedder,
    WordLlamaEmbedder,
    default_embedder,
)
from toolweave.retrieval._families import FamilyOf, by_prefix, by_suffix, family_of
from toolweave.retrieval._fusion import ScoredTool
from toolweave.retrieval._mpnet import MPNetEmbedder
from toolweave.retrieval._rerank import ModelReranker, Reranker
from toolweave.retrieval._retriever import Retriever
from toolweave.retrieval._settings import RetrieverSettings
from toolweave.retrieval._stages import Mode
from toolweave.retrieval._text import split_name, tool_document

__all__ = [
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
]
