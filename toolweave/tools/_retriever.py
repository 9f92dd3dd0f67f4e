"""`Retriever`: pick the right tools out of thousands, Toolshed-style.

Each tool is indexed as one enhanced document (name words, description, family,
parameters, return value, optional example questions). A query is split into its
intents; each intent is searched with BM25 and with dense embeddings over one shared
candidate pool, and the two sides fused. Then, each stage switchable:

1. families: a tool is lifted by how well its siblings (same provider, server, spec)
   serve the request and its other intents (`sibling_support`);
2. diversity: near-copies of one API are kept out of each intent's top k (`diversify`);
3. the per-intent lists are merged so that every intent keeps its best tools;
4. in `asearch`, a second stage (`Reranker`) may reorder the top candidates.

A retriever in use can learn: `learn` adds a request to the documents of the tools
that served it, so later requests phrased alike find them.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from toolweave.errors import UserError
from toolweave.models import Model
from toolweave.tools._bm25 import BM25Index
from toolweave.tools._decompose import decompose, decompose_with_model
from toolweave.tools._embedders import Embedder, default_embedder
from toolweave.tools._examples import ExampleWriter
from toolweave.tools._families import FamilyOf, family_of, sibling_support
from toolweave.tools._fusion import ScoredTool, fuse, merge, top, zscore
from toolweave.tools._journal import (
    Lesson,
    append_lessons,
    remember,
    replay_journal,
    rewrite_journal,
)
from toolweave.tools._mmr import diversify as _mmr
from toolweave.tools._mmr import near_copies
from toolweave.tools._registry import ToolRegistry
from toolweave.tools._rerank import Reranker
from toolweave.tools._store import Entry, Placeholder, read_index, write_index
from toolweave.tools._text import tokenize, tool_document, tool_fingerprint
from toolweave.tools._tool import Tool
from toolweave.tools._vectors import VectorIndex

__all__ = ["Mode", "Retriever", "ScoredTool"]

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = get_args(Mode)


class Retriever:
    """Hybrid BM25 + dense search over a registry's tools, persisted and incremental.

    Args:
        tools: The tools to index.
        embedder: The dense side; `WordLlamaEmbedder` by default.
        path: A directory to keep the index in: loaded if there, brought up to date
            with `tools` (only new or changed tools are embedded), saved back.
        examples: Example questions per tool name, added to its document (an index
            loaded from `path` keeps the ones it was saved with for the other tools).
        max_learned: How many learned requests (`learn`) a tool's document keeps, the
            most recent.
        candidates: How deep each ranking goes before fusion.
        fusion: ``zscore`` (default): each side's scores standardized over the
            candidates, then added with `weights`, so a side counts by how much its
            best matches stand out; or ``rrf``: reciprocal-rank fusion.
        rrf_k: The reciprocal-rank-fusion constant.
        weights: Weights of the BM25 and the dense side in the fusion.
        hnsw_threshold: From this many tools on, dense search is approximate (HNSW).
        families: Names each tool's family (`family_of` by default: `Tool.family` or
            the metadata; `by_suffix` and `by_prefix` read it from names); `None`
            for no families.
        family_weight: How much a family's support lifts its members, in standard
            deviations of the fused score; 0 turns the stage off.
        diversity: Relevance taken off a near-copy of a tool already in the top k, in
            standard deviations; 0 turns the stage off.
        duplicate_similarity: Similarity (document cosine, or overlap of the words
            other than the family's) from which two tools count as near-copies.
        reranker: The second stage of `asearch` (e.g. `ModelReranker`); `None` for
            none.
        rerank_depth: How many candidates the second stage sees.

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
        max_learned: int = 50,
        candidates: int = 100,
        fusion: Literal["zscore", "rrf"] = "zscore",
        rrf_k: int = 60,
        weights: tuple[float, float] = (0.5, 1.0),
        hnsw_threshold: int = 50_000,
        families: FamilyOf | None = family_of,
        family_weight: float = 0.5,
        diversity: float = 3.0,
        duplicate_similarity: float = 0.85,
        reranker: Reranker | None = None,
        rerank_depth: int = 10,
    ) -> None:
        _check_settings(
            max_learned=max_learned,
            hnsw_threshold=hnsw_threshold,
            candidates=candidates,
            fusion=fusion,
            rrf_k=rrf_k,
            weights=weights,
            family_weight=family_weight,
            diversity=diversity,
            duplicate_similarity=duplicate_similarity,
            rerank_depth=rerank_depth,
        )
        self.path = Path(path).expanduser() if path is not None else None
        if self.path is not None and self.path.exists() and not self.path.is_dir():
            raise UserError(f"Retriever: the index path {self.path} is a file; give a directory")
        self.embedder = embedder or default_embedder()
        self.examples: dict[str, list[str]] = {k: list(v) for k, v in (examples or {}).items()}
        self.max_learned = max_learned
        self.learned: dict[str, list[str]] = {}  # requests that tools served, by tool
        self._lessons: list[Lesson] = []  # learned, not yet in the journal at `path`
        self.candidates = candidates
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.weights = weights
        self.families = families
        self.family_weight = family_weight
        self.diversity = diversity
        self.duplicate_similarity = duplicate_similarity
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self._bm25 = BM25Index()
        self._vectors = VectorIndex(self.embedder.dim, hnsw_threshold=hnsw_threshold)
        self._tools: list[Tool | None] = []
        self._keys: list[str] = []  # fingerprint + examples, per slot
        self._docs: list[str] = []
        self._tokens: list[list[str]] = []
        self._families: list[str | None] = []
        self._content: list[frozenset[str]] = []  # document words less the family's
        self._codes: np.ndarray | None = None
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

    def family(self, name: str) -> str | None:
        """The family a tool is indexed in, if any."""
        return self._families[self._slot[name]]

    async def aenrich(
        self, model: Model | None, cache: str | Path, *, max_tools: int = 1_000
    ) -> int:
        """Add example questions, written by `model` and cached, to the tools' documents.

        Toolshed's enhanced documents: retrieval then matches the way people ask. The
        local model writes a tool's questions in 3 to 8 seconds on 2 cores (about an
        hour and a half per 1,000 tools, once: they are cached by the tool's content),
        so a registry of more than `max_tools` tools uses the cache only. Only the
        tools whose questions are new are re-indexed.

        Args:
            model: The writer; `None` to use the cache only.
            cache: The JSON file the questions are kept in.
            max_tools: The largest registry the model writes questions for.

        Returns:
            How many tools' documents changed.
        """
        tools = self.tools
        writer = ExampleWriter(model if len(tools) <= max_tools else None, cache)
        if writer.model is not None:
            found = await writer.write(tools)
        else:
            found = writer.cached(tools)
        fresh = {n: q for n, q in found.items() if self.examples.get(n) != q}
        self.examples.update(fresh)
        self.sync([*tools])
        if fresh and self.path is not None:
            self.save()
        return len(fresh)

    def learn(
        self, request: str, tools: str | Tool | Iterable[str | Tool], *, save: bool = True
    ) -> bool:
        """Remember that `tools` served `request`: it joins their documents.

        Requests phrased alike then find them, as the example questions do, but in the
        words of the people who use the registry. Each tool keeps its `max_learned`
        most recent requests (a request learned again becomes the most recent); only
        its own entry is re-indexed. Teach it what was confirmed (an answer the user
        accepted, a log of correct calls): what it learns, it finds again.

        Args:
            request: The request, as asked.
            tools: The tool (or its name) that served it, or several; each must be
                indexed (`KeyError` otherwise).
            save: Add the lesson to the journal kept with the index at the retriever's
                `path`, if it has one (one appended line; processes that share the
                index keep each other's lessons).

        Returns:
            Whether any document changed.
        """
        return self.learn_all([(request, tools)], save=save) > 0

    def learn_all(
        self,
        log: Iterable[tuple[str, str | Tool | Iterable[str | Tool]]],
        *,
        save: bool = True,
    ) -> int:
        """`learn` each (request, tools) of a log in order, re-indexing each tool once.

        The whole log is checked before anything is learned. Returns how many tools'
        documents changed.
        """
        entries = []
        for request, tools in log:
            if not isinstance(request, str) or not request.strip():
                raise UserError(f"learn needs a non-empty request, not {request!r}")
            served = [tools] if isinstance(tools, str | Tool) else list(tools)
            names = list(dict.fromkeys(t.name if isinstance(t, Tool) else t for t in served))
            if not names:
                raise UserError(f"learn needs the tools that served {request!r}; none given")
            for name in names:
                if name not in self._slot:
                    raise KeyError(f"no tool named {name!r} is indexed")
            entries.append((" ".join(request.split()), names))
        changed: dict[str, Tool] = {}
        for text, names in entries:
            taught = [n for n in names if remember(self.learned, n, text, self.max_learned)]
            if taught and self.path is not None:
                self._lessons.append({"learn": text, "tools": taught})
            changed.update((n, self._tool(self._slot[n])) for n in taught)
        self.add(*changed.values())
        if save:
            self._keep_lessons()
        return len(changed)

    def forget(self, *names: str, save: bool = True) -> int:
        """Drop the learned requests of the named tools (of every tool, if none named).

        Returns how many tools had learned requests to drop.
        """
        for name in names:
            if name not in self._slot and name not in self.learned:
                raise KeyError(f"no tool named {name!r} is indexed")
        dropped = [n for n in names or tuple(self.learned) if self.learned.pop(n, None)]
        if self.path is not None:
            self._lessons.append({"forget": list(names) if names else None})
        self.add(*(self._tool(self._slot[n]) for n in dropped if n in self._slot))
        if save:
            self._keep_lessons()
        return len(dropped)

    def _keep_lessons(self) -> None:
        """Append the lessons not yet kept to the journal at `path`, if there is one."""
        if self.path is not None:
            append_lessons(self.path, self._lessons)
            self._lessons.clear()

    def sync(self, tools: ToolRegistry | Iterable[Tool]) -> bool:
        """Make the index hold exactly `tools`; returns whether anything changed.

        New tools are added, changed ones re-indexed, the others removed.
        """
        tools = list(tools)
        if strays := [t for t in tools if not isinstance(t, Tool)]:
            raise UserError(f"a Retriever indexes Tool objects, not {strays[0]!r}")
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
        families = [self._family_of(t) for t in tools]
        docs = [
            tool_document(t, self._questions(t.name), family=f)
            for t, f in zip(tools, families, strict=True)
        ]
        vectors = self.embedder.embed(docs) if docs else None
        self._append(list(tools), docs, [tokenize(d) for d in docs], vectors, families)

    def remove(self, name: str) -> None:
        """Take a tool out of the index."""
        slot = self._slot.pop(name, None)
        if slot is None:
            raise KeyError(f"no tool named {name!r} is indexed")
        self._tools[slot] = None
        self._codes = None
        self._bm25.remove(slot)
        self._vectors.remove(slot)

    def _append(
        self,
        tools: Sequence[Tool],
        docs: Sequence[str],
        tokens: Sequence[list[str]],
        vectors: np.ndarray | None,
        families: Sequence[str | None],
        keys: Sequence[str] | None = None,
    ) -> None:
        if not tools:
            return
        start = len(self._tools)
        assert vectors is not None
        self._vectors.add(start, vectors)
        self._codes = None
        for offset, tool in enumerate(tools):
            slot = start + offset
            self._tools.append(tool)
            self._keys.append(keys[offset] if keys else self._key(tool))
            self._docs.append(docs[offset])
            self._tokens.append(tokens[offset])
            self._families.append(families[offset])
            own = set(tokenize(families[offset] or ""))
            self._content.append(frozenset(tokens[offset]) - own)
            self._slot[tool.name] = slot
            self._bm25.add(slot, tokens[offset])

    def _questions(self, name: str) -> list[str]:
        """A tool's example questions, then the requests it learned."""
        return [*self.examples.get(name, ()), *self.learned.get(name, ())]

    def _family_of(self, tool: Tool) -> str | None:
        return self.families(tool) if self.families is not None else None

    def _key(self, tool: Tool) -> str:
        extra = [self._family_of(tool), self.examples.get(tool.name, [])]
        if learned := self.learned.get(tool.name):
            extra.append(learned)
        return tool_fingerprint(tool) + json.dumps(extra)

    # -- search ---------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        split: bool = True,
        parts: Sequence[str] | None = None,
        families: bool = True,
        diversify: bool = True,
    ) -> list[ScoredTool]:
        """The `k` tools that best serve `query`.

        Args:
            query: The request, possibly with several intents.
            k: How many tools.
            mode: ``hybrid`` (fused), or one side alone: ``bm25``, ``dense``.
            split: Decompose multi-intent queries (cheaply, see `decompose`) and merge
                the per-intent results.
            parts: The query's intents, if already known (`asearch` asks a model).
            families: Let a family whose members serve the request lift them (off
                when the retriever was built with ``family_weight=0``).
            diversify: Keep near-copies of one API from several families out of the
                top k (maximal marginal relevance; off when the retriever was built
                with ``diversity=0``).
        """
        if mode not in MODES:
            raise UserError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not self._slot or k <= 0:
            return []
        intents = list(parts) if parts else decompose(query) if split else [query]
        queries = [query] if len(intents) == 1 else [query, *intents]
        pool, bm25, dense, fused = self._score(queries, mode)
        if not len(pool):
            return []
        if families and self.family_weight > 0 and self.families is not None:
            relevance = [zscore(row) for row in fused]
            support = sibling_support(self._family_codes()[pool], relevance)
            fused = np.stack(relevance) + self.family_weight * support
        rankings = []
        for row, text in enumerate(queries):
            order = np.argsort(-fused[row], kind="stable")
            head = order[: max(4 * k, 20)]
            codes = self._family_codes()[pool[head]]
            if diversify and self.diversity > 0 and len(np.unique(codes[codes >= 0])) > 1:
                slots = pool[head].tolist()
                similarity = near_copies(
                    self._vectors.matrix[slots], [self._content[s] for s in slots], codes
                )
                picked = _mmr(
                    zscore(fused[row][head]),
                    similarity,
                    k,
                    penalty=self.diversity,
                    threshold=self.duplicate_similarity,
                )
                order = head[picked]
            rankings.append(
                [
                    ScoredTool(
                        self._tool(int(pool[i])),
                        float(fused[row, i]),
                        float(bm25[row, i]),
                        float(dense[row, i]),
                        text,
                    )
                    for i in order[:k].tolist()
                ]
            )
        return rankings[0] if len(rankings) == 1 else merge(rankings, k)

    async def asearch(
        self,
        query: str,
        k: int = 5,
        *,
        model: Model | None = None,
        mode: Mode = "hybrid",
        rerank: bool | Literal["auto"] = "auto",
        budget_ms: float | None = None,
    ) -> list[ScoredTool]:
        """`search`, then the second stage; the query split by `model` when one is given.

        Args:
            query: The request.
            k: How many tools.
            model: A model to split the request into its intents (Toolshed's query
                decomposition); without one the request is split cheaply.
            mode: As in `search`.
            rerank: Reorder the top ``rerank_depth`` candidates with the retriever's
                `reranker`: ``True`` always (an error without one), ``False`` never,
                ``"auto"`` where there is one and its expected latency fits
                `budget_ms` (with nothing measured or estimated yet, it runs, and
                is measured).
            budget_ms: What the second stage may take for this query, in milliseconds
                (``None``: no limit).
        """
        parts = (await decompose_with_model(model, query)).parts if model is not None else None
        if rerank is True and self.reranker is None:
            raise UserError("rerank=True needs a Retriever built with a reranker")
        reranker = self.reranker if rerank is not False else None
        if reranker is not None and rerank == "auto" and budget_ms is not None:
            expected = reranker.expected_ms
            if expected is not None and expected > budget_ms:
                reranker = None
        if reranker is None:
            return self.search(query, k, mode=mode, parts=parts)
        candidates = self.search(query, max(k, self.rerank_depth), mode=mode, parts=parts)
        return (await reranker.rerank(query, candidates))[:k]

    def _score(
        self, queries: Sequence[str], mode: Mode
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The candidate pool of all `queries`, and each query's scores over it.

        Returns the pool's slots and, one row per query, the BM25, dense and fused
        scores of every candidate.
        """
        size = self._vectors.size
        lexical = [self._bm25.scores(tokenize(q), size) for q in queries]
        vectors = self.embedder.embed(list(queries))
        pools: list[np.ndarray] = []
        if mode != "dense":
            pools += [top(b, self.candidates, positive=True) for b in lexical]
        if mode != "bm25":
            pools += self._vectors.search_many(vectors, self.candidates)
        pool = functools.reduce(np.union1d, pools) if pools else np.zeros(0, np.int64)
        bm25 = np.stack([b[pool] for b in lexical])
        dense = vectors @ self._vectors.matrix[pool].T
        if mode == "bm25":
            fused = bm25
        elif mode == "dense":
            fused = dense
        else:
            fused = fuse(bm25, dense, method=self.fusion, weights=self.weights, rrf_k=self.rrf_k)
        return pool, bm25, dense, fused

    def _tool(self, slot: int) -> Tool:
        tool = self._tools[slot]
        assert tool is not None
        return tool

    def _family_codes(self) -> np.ndarray:
        """Each slot's family as an integer (-1: none), rebuilt after a change."""
        if self._codes is None or len(self._codes) != len(self._families):
            numbers: dict[str, int] = {}
            self._codes = np.array(
                [-1 if f is None else numbers.setdefault(f, len(numbers)) for f in self._families],
                np.int64,
            )
        return self._codes

    # -- persistence ----------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the index (compacted) to a directory; returns the directory."""
        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise UserError("Retriever.save needs a path (or a Retriever built with path=)")
        named = sorted(self._slot.items(), key=lambda item: item[1])
        entries = [
            Entry(
                name,
                self._keys[s],
                self._docs[s],
                self._tokens[s],
                self._families[s],
                self.examples.get(name, []),
            )
            for name, s in named
        ]
        live = [slot for _, slot in named]
        vectors = self._vectors.matrix[live] if live else np.zeros((0, self.embedder.dim))
        write_index(target, self.embedder, entries, vectors)
        if target == self.path:
            self._keep_lessons()
        else:  # another place: a journal of what is learned now
            rewrite_journal(target, self.learned)
        return target

    def _load(self) -> bool:
        assert self.path is not None
        self.learned = replay_journal(self.path, self.max_learned)
        loaded = read_index(self.path, self.embedder)
        if loaded is None:
            return True  # none there, or another format or embedder: rebuild
        entries, vectors = loaded
        for entry in entries:  # questions given to the constructor win over the saved ones
            if entry.examples:
                self.examples.setdefault(entry.name, entry.examples)
        self._append(
            [Placeholder(e.name) for e in entries],  # type: ignore[misc]
            [e.doc for e in entries],
            [e.tokens for e in entries],
            vectors,
            [e.family for e in entries],
            keys=[e.key for e in entries],
        )
        return False


def _check_settings(
    *,
    max_learned: int,
    hnsw_threshold: int,
    candidates: int,
    fusion: str,
    rrf_k: int,
    weights: tuple[float, float],
    family_weight: float,
    diversity: float,
    duplicate_similarity: float,
    rerank_depth: int,
) -> None:
    """A setting that would rank nothing, or silently be another, is an error."""
    checks = [
        ("fusion", fusion, fusion in ("zscore", "rrf"), "'zscore' or 'rrf'"),
        ("max_learned", max_learned, max_learned >= 0, "0 or more"),
        ("hnsw_threshold", hnsw_threshold, hnsw_threshold >= 0, "0 or more"),
        ("candidates", candidates, candidates >= 1, "at least 1"),
        ("rerank_depth", rerank_depth, rerank_depth >= 1, "at least 1"),
        ("rrf_k", rrf_k, rrf_k >= 0, "0 or more"),
        (
            "weights",
            weights,
            len(weights) == 2
            and all(math.isfinite(w) and w >= 0 for w in weights)
            and any(weights),
            "two numbers, 0 or more, not both 0",
        ),
        ("family_weight", family_weight, family_weight >= 0, "0 or more"),
        ("diversity", diversity, diversity >= 0, "0 or more"),
        (
            "duplicate_similarity",
            duplicate_similarity,
            0 < duplicate_similarity <= 1,
            "above 0 and at most 1",
        ),
    ]
    for name, value, ok, rule in checks:
        if not ok:
            raise UserError(f"Retriever: {name} must be {rule}, not {value!r}")
