"""`Retriever`: pick the right tools out of thousands, Toolshed-style.

Each tool is indexed as one enhanced document (name words, description, parameters,
return value, optional example questions). A query is split into its intents, each
intent searched with BM25 and with dense embeddings, the two rankings fused by
reciprocal rank, and the per-intent lists merged so that every intent keeps its best
tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from toolweave.errors import UserError
from toolweave.models import Model
from toolweave.tools._bm25 import BM25Index
from toolweave.tools._decompose import decompose, decompose_with_model
from toolweave.tools._embedders import Embedder, default_embedder
from toolweave.tools._registry import ToolRegistry
from toolweave.tools._text import tokenize, tool_document, tool_fingerprint
from toolweave.tools._tool import Tool
from toolweave.tools._vectors import VectorIndex

__all__ = ["Mode", "Retriever", "ScoredTool"]

Mode = Literal["hybrid", "bm25", "dense"]
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ScoredTool:
    """A retrieved tool with the parts of its score.

    Attributes:
        tool: The tool.
        fused: The score it was ranked by (the fused score in hybrid mode).
        bm25: Its BM25 score for the (sub-)query that found it.
        dense: Its cosine similarity to that query.
        query: The (sub-)query that found it.
    """

    tool: Tool
    fused: float
    bm25: float
    dense: float
    query: str


class Retriever:
    """Hybrid BM25 + dense search over a registry's tools, persisted and incremental.

    Args:
        tools: The tools to index.
        embedder: The dense side; `WordLlamaEmbedder` by default.
        path: A directory to keep the index in: loaded if there, brought up to date
            with `tools` (only new or changed tools are embedded), saved back.
        examples: Example questions per tool name, added to its document.
        candidates: How deep each ranking goes before fusion.
        fusion: ``zscore`` (default): each side's scores standardized over the
            candidates, then added with `weights`, so a side counts by how much its
            best matches stand out; or ``rrf``: reciprocal-rank fusion.
        rrf_k: The reciprocal-rank-fusion constant.
        weights: Weights of the BM25 and the dense side in the fusion.
        hnsw_threshold: From this many tools on, dense search is approximate (HNSW).

    Example:
        ```python
        retriever = Retriever(registry, path="~/.cache/my-tools-index")
        for hit in retriever.search("what's the weather in Paris and book a hotel", k=5):
            print(hit.tool.name, hit.fused, hit.bm25, hit.dense)
        ```
    """

    def __init__(
        self,
        tools: ToolRegistry | Iterable[Tool],
        *,
        embedder: Embedder | None = None,
        path: str | Path | None = None,
        examples: Mapping[str, Sequence[str]] | None = None,
        candidates: int = 100,
        fusion: Literal["zscore", "rrf"] = "zscore",
        rrf_k: int = 60,
        weights: tuple[float, float] = (0.5, 1.0),
        hnsw_threshold: int = 50_000,
    ) -> None:
        self.embedder = embedder or default_embedder()
        self.path = Path(path).expanduser() if path is not None else None
        self.examples: dict[str, list[str]] = {k: list(v) for k, v in (examples or {}).items()}
        self.candidates = candidates
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.weights = weights
        self._bm25 = BM25Index()
        self._vectors = VectorIndex(self.embedder.dim, hnsw_threshold=hnsw_threshold)
        self._tools: list[Tool | None] = []
        self._keys: list[str] = []  # fingerprint + examples, per slot
        self._docs: list[str] = []
        self._tokens: list[list[str]] = []
        self._slot: dict[str, int] = {}
        changed = self._load() if self.path is not None else False
        changed |= self.sync(tools)
        if changed and self.path is not None:
            self.save()

    # -- the index ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, name: object) -> bool:
        return name in self._slot

    @property
    def tools(self) -> list[Tool]:
        """The indexed tools."""
        return [t for t in self._tools if t is not None]

    def document(self, name: str) -> str:
        """The enhanced document indexed for a tool."""
        return self._docs[self._slot[name]]

    def sync(self, tools: ToolRegistry | Iterable[Tool]) -> bool:
        """Make the index hold exactly `tools`; returns whether anything changed.

        New tools are added, changed ones re-indexed, the others removed.
        """
        wanted = {t.name: t for t in tools}
        stale = [n for n, slot in self._slot.items() if n not in wanted]
        fresh: list[Tool] = []
        for name, tool in wanted.items():
            slot = self._slot.get(name)
            if slot is None or self._keys[slot] != self._key(tool):
                if slot is not None:
                    stale.append(name)
                fresh.append(tool)
            else:
                self._tools[slot] = tool  # same content: adopt the live object (its fn)
        for name in stale:
            self.remove(name)
        self.add(*fresh)
        return bool(stale or fresh)

    def add(self, *tools: Tool) -> None:
        """Index more tools (a tool whose name is indexed replaces it)."""
        for tool in tools:
            if tool.name in self._slot:
                self.remove(tool.name)
        docs = [tool_document(t, self.examples.get(t.name, ())) for t in tools]
        vectors = self.embedder.embed(docs) if docs else None
        self._append(list(tools), docs, [tokenize(d) for d in docs], vectors)

    def remove(self, name: str) -> None:
        """Take a tool out of the index."""
        slot = self._slot.pop(name, None)
        if slot is None:
            raise KeyError(f"no tool named {name!r} is indexed")
        self._tools[slot] = None
        self._bm25.remove(slot)
        self._vectors.remove(slot)

    def _append(
        self,
        tools: Sequence[Tool],
        docs: Sequence[str],
        tokens: Sequence[list[str]],
        vectors: np.ndarray | None,
        keys: Sequence[str] | None = None,
    ) -> None:
        if not tools:
            return
        start = len(self._tools)
        assert vectors is not None
        self._vectors.add(start, vectors)
        for offset, tool in enumerate(tools):
            slot = start + offset
            self._tools.append(tool)
            self._keys.append(keys[offset] if keys else self._key(tool))
            self._docs.append(docs[offset])
            self._tokens.append(tokens[offset])
            self._slot[tool.name] = slot
            self._bm25.add(slot, tokens[offset])

    def _key(self, tool: Tool) -> str:
        return tool_fingerprint(tool) + json.dumps(self.examples.get(tool.name, []))

    # -- search ---------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        split: bool = True,
        parts: Sequence[str] | None = None,
    ) -> list[ScoredTool]:
        """The `k` tools that best serve `query`.

        Args:
            query: The request, possibly with several intents.
            k: How many tools.
            mode: ``hybrid`` (fused), or one side alone: ``bm25``, ``dense``.
            split: Decompose multi-intent queries (cheaply, see `decompose`) and merge
                the per-intent results.
            parts: The query's intents, if already known (`asearch` asks a model).
        """
        if not self._slot or k <= 0:
            return []
        queries = list(parts) if parts else decompose(query) if split else [query]
        if len(queries) == 1:
            return self._rank(query, k, mode)
        rankings = [self._rank(q, k, mode) for q in [query, *queries]]
        return _merge(rankings, k)

    async def asearch(
        self, query: str, k: int = 5, *, model: Model | None = None, mode: Mode = "hybrid"
    ) -> list[ScoredTool]:
        """`search`, with the query split into its intents by `model` when one is given."""
        if model is None:
            return self.search(query, k, mode=mode)
        split = await decompose_with_model(model, query)
        return self.search(query, k, mode=mode, parts=split.parts)

    def _rank(self, query: str, k: int, mode: Mode) -> list[ScoredTool]:
        depth = max(self.candidates, k)
        bm25 = self._bm25.scores(tokenize(query), self._vectors.size)
        vector = self.embedder.embed([query])[0]
        lexical = _top(bm25, depth, positive=True)
        semantic, _ = self._vectors.search(vector, depth)
        if mode == "bm25":
            pool = lexical
        elif mode == "dense":
            pool = semantic
        else:
            pool = np.union1d(lexical, semantic)
        if not len(pool):
            return []
        b = bm25[pool]
        d = self._vectors.matrix[pool] @ vector
        if mode == "bm25":
            fused = b
        elif mode == "dense":
            fused = d
        elif self.fusion == "rrf":
            fused = self.weights[0] / (self.rrf_k + 1 + _ranks(b)) + self.weights[1] / (
                self.rrf_k + 1 + _ranks(d)
            )
        else:  # z-scores over the candidate pool: each side counts by how much it stands out
            fused = self.weights[0] * _zscore(b) + self.weights[1] * _zscore(d)
        order = np.argsort(-fused, kind="stable")[:k]
        out = []
        for i in order.tolist():
            tool = self._tools[int(pool[i])]
            assert tool is not None
            out.append(ScoredTool(tool, float(fused[i]), float(b[i]), float(d[i]), query))
        return out

    # -- persistence ----------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the index (compacted) to a directory; returns the directory."""
        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise UserError("Retriever.save needs a path (or a Retriever built with path=)")
        target.mkdir(parents=True, exist_ok=True)
        named = sorted(self._slot.items(), key=lambda item: item[1])
        live = [slot for _, slot in named]
        meta = {
            "format": _FORMAT,
            "embedder": self.embedder.name,
            "dim": self.embedder.dim,
            "entries": [
                {
                    "name": name,
                    "key": self._keys[s],
                    "doc": self._docs[s],
                    "tokens": " ".join(self._tokens[s]),
                }
                for name, s in named
            ],
        }
        vectors = self._vectors.matrix[live] if live else np.zeros((0, self.embedder.dim))
        np.save(target / "vectors.npy", vectors.astype(np.float32))
        (target / "index.json").write_text(json.dumps(meta, ensure_ascii=False))
        return target

    def _load(self) -> bool:
        assert self.path is not None
        meta_file, vector_file = self.path / "index.json", self.path / "vectors.npy"
        if not meta_file.is_file() or not vector_file.is_file():
            return True
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != _FORMAT or meta.get("embedder") != self.embedder.name:
            return True  # another format or embedder: rebuild
        entries = meta["entries"]
        vectors = np.load(vector_file)
        placeholders = [_Placeholder(e["name"]) for e in entries]
        self._append(
            placeholders,  # type: ignore[arg-type]
            [e["doc"] for e in entries],
            [e["tokens"].split() for e in entries],
            vectors,
            keys=[e["key"] for e in entries],
        )
        return False


@dataclass(frozen=True, slots=True)
class _Placeholder:
    """A loaded entry until `sync` adopts the live tool of the same name and content."""

    name: str


def _ranks(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def _zscore(scores: np.ndarray) -> np.ndarray:
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 1e-9 else np.zeros_like(scores)


def _top(scores: np.ndarray, k: int, *, positive: bool) -> np.ndarray:
    candidates = np.flatnonzero(scores > 0) if positive else np.arange(len(scores))
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def _merge(rankings: Sequence[list[ScoredTool]], k: int) -> list[ScoredTool]:
    """Round-robin over the rankings, the whole query's first.

    Each intent keeps its best tools; duplicates keep their first, best place. The
    whole query goes first because it ranks better at 1 than any single intent.
    """
    out: list[ScoredTool] = []
    seen: set[str] = set()
    for depth in range(k):
        for ranking in rankings:
            if depth < len(ranking) and ranking[depth].tool.name not in seen:
                seen.add(ranking[depth].tool.name)
                out.append(ranking[depth])
                if len(out) == k:
                    return out
    return out
