"""`Retriever`: pick the right tools out of thousands, Toolshed-style.

Each tool is indexed as one enhanced document (name words, description, family,
parameters, return value, optional example questions). A query is split into its
intents; each intent is searched with BM25 and with dense embeddings over one shared
candidate pool, and the two sides fused. Then, each stage switchable (`_stages`):

1. families: a tool is lifted by how well its siblings (same provider, server, spec)
   serve the request and its other intents (`sibling_support`);
2. diversity: near-copies of one API are kept out of each intent's top k (`diversify`);
3. the per-intent lists are merged so that every intent keeps its best tools;
4. in `asearch`, a second stage (`Reranker`) may reorder the top candidates.

A retriever in use can learn (`_learning`): `learn` adds a request to the documents of
the tools that served it, so later requests phrased alike find them. This module is
the facade over the index (`_index`), the stages, learning and persistence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Unpack

from toolweave.errors import UserError
from toolweave.models import Model
from toolweave.retrieval import _stages as stages
from toolweave.retrieval._decompose import decompose, decompose_with_model
from toolweave.retrieval._embedders import Embedder, default_embedder
from toolweave.retrieval._examples import ExampleWriter
from toolweave.retrieval._families import FamilyOf
from toolweave.retrieval._fusion import ScoredTool
from toolweave.retrieval._index import ToolIndex
from toolweave.retrieval._learning import Learning, Served, checked_log
from toolweave.retrieval._persistence import load_index, save_index
from toolweave.retrieval._rerank import Reranker
from toolweave.retrieval._settings import (
    Fusion,
    Knob,
    RetrieverKnobs,
    RetrieverSettings,
    checked_settings,
)
from toolweave.retrieval._stages import MODES, Mode
from toolweave.retrieval._text import document_key, tool_document
from toolweave.tools import Tool, ToolRegistry

__all__ = ["Retriever"]


class Retriever:
    """Hybrid BM25 + dense search over a registry's tools, persisted and incremental.

    Args:
        tools: The tools to index.
        embedder: The dense side; `WordLlamaEmbedder` by default.
        path: A directory to keep the index in: loaded if there, brought up to date
            with `tools` (only new or changed tools are embedded), saved back.
        examples: Example questions per tool name, added to its document (an index
            loaded from `path` keeps the ones it was saved with for the other tools).
        reranker: The second stage of `asearch` (e.g. `ModelReranker`); `None` for
            none.
        settings: How it indexes, ranks and learns (`RetrieverSettings`; its
            defaults if `None`).
        **knobs: Any of `RetrieverSettings`' fields, replacing the value in
            `settings`: ``max_learned``, ``candidates``, ``fusion``, ``rrf_k``,
            ``weights``, ``hnsw_threshold``, ``families``, ``family_weight``,
            ``diversity``, ``duplicate_similarity``, ``rerank_depth``. Each is also
            an attribute of the retriever; setting one is checked like the others.

    Raises:
        UserError: A setting out of its range, a `path` that is a file, or tools
            that are not `Tool` objects.

    Example:
        ```python
        retriever = Retriever(registry, path="~/.cache/my-tools-index")
        for hit in retriever.search("what's the weather in Paris and book a hotel", k=5):
            print(hit.tool.name, hit.fused, hit.bm25, hit.dense)
        ```
    """

    max_learned = Knob[int]()
    candidates = Knob[int]()
    fusion = Knob[Fusion]()
    rrf_k = Knob[int]()
    weights = Knob[tuple[float, float]]()
    hnsw_threshold = Knob[int]()
    families = Knob[FamilyOf | None]()
    family_weight = Knob[float]()
    diversity = Knob[float]()
    duplicate_similarity = Knob[float]()
    rerank_depth = Knob[int]()

    def __init__(
        self,
        tools: ToolRegistry | Iterable[Tool],
        *,
        embedder: Embedder | None = None,
        path: str | Path | None = None,
        examples: Mapping[str, Sequence[str]] | None = None,
        reranker: Reranker | None = None,
        settings: RetrieverSettings | None = None,
        **knobs: Unpack[RetrieverKnobs],
    ) -> None:
        settings = checked_settings(settings if settings is not None else RetrieverSettings())
        self._settings = dataclasses.replace(settings, **knobs) if knobs else settings
        self.path = Path(path).expanduser() if path is not None else None
        if self.path is not None and self.path.exists() and not self.path.is_dir():
            raise UserError(f"Retriever: the index path {self.path} is a file; give a directory")
        self._index = ToolIndex(
            embedder or default_embedder(), hnsw_threshold=self._settings.hnsw_threshold
        )
        self.examples: dict[str, list[str]] = {k: list(v) for k, v in (examples or {}).items()}
        self.reranker = reranker
        self._learning = Learning(self.path)
        changed = False
        if self.path is not None:
            self._learning.load(self.max_learned)
            changed = load_index(self._index, self.path, self.examples)
        changed |= self.sync(tools)
        if changed and self.path is not None:
            self.save()

    @property
    def settings(self) -> RetrieverSettings:
        """How it indexes, ranks and learns; assign a new value to change them."""
        return self._settings

    @settings.setter
    def settings(self, settings: RetrieverSettings) -> None:
        self._settings = checked_settings(settings)
        self._index.vectors.hnsw_threshold = settings.hnsw_threshold

    @property
    def embedder(self) -> Embedder:
        """The dense side; the same model must embed the documents and the queries."""
        return self._index.embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        self._index.embedder = embedder

    @property
    def learned(self) -> dict[str, list[str]]:
        """The requests each tool learned (`learn`), the most recent last."""
        return self._learning.learned

    # -- the index ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @property
    def tools(self) -> list[Tool]:
        """The indexed tools."""
        return self._index.tools

    def document(self, name: str) -> str:
        """The enhanced document indexed for a tool."""
        return self._index.docs[self._index.slots[name]]

    def family(self, name: str) -> str | None:
        """The family a tool is indexed in, if any."""
        return self._index.families[self._index.slots[name]]

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

    def learn(self, request: str, tools: Served, *, save: bool = True) -> bool:
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

    def learn_all(self, log: Iterable[tuple[str, Served]], *, save: bool = True) -> int:
        """`learn` each (request, tools) of a log in order, re-indexing each tool once.

        The whole log is checked before anything is learned. Returns how many tools'
        documents changed.
        """
        entries = checked_log(log, self._index)
        changed = self._learning.teach(entries, self.max_learned)
        self.add(*(self._index.tool(self._index.slots[n]) for n in changed))
        if save:
            self._learning.keep()
        return len(changed)

    def forget(self, *names: str, save: bool = True) -> int:
        """Drop the learned requests of the named tools (of every tool, if none named).

        Returns how many tools had learned requests to drop.
        """
        dropped = self._learning.forget(names, self._index)
        slots = self._index.slots
        self.add(*(self._index.tool(slots[n]) for n in dropped if n in slots))
        if save:
            self._learning.keep()
        return len(dropped)

    def sync(self, tools: ToolRegistry | Iterable[Tool]) -> bool:
        """Make the index hold exactly `tools`; returns whether anything changed.

        New tools are added, changed ones re-indexed, the others removed.
        """
        tools = list(tools)
        if strays := [t for t in tools if not isinstance(t, Tool)]:
            raise UserError(f"a Retriever indexes Tool objects, not {strays[0]!r}")
        stale, fresh = self._index.reconcile({t.name: t for t in tools}, self._key)
        for name in stale:
            self.remove(name)
        self.add(*fresh)
        return bool(stale or fresh)

    def add(self, *tools: Tool) -> None:
        """Index more tools (a tool whose name is indexed replaces it)."""
        families = [self._family_of(t) for t in tools]
        docs = [
            tool_document(t, self._questions(t.name), family=f)
            for t, f in zip(tools, families, strict=True)
        ]
        self._index.add(tools, docs, families, [self._key(t) for t in tools])

    def remove(self, name: str) -> None:
        """Take a tool out of the index."""
        self._index.remove(name)

    def _questions(self, name: str) -> list[str]:
        """A tool's example questions, then the requests it learned."""
        return [*self.examples.get(name, ()), *self.learned.get(name, ())]

    def _family_of(self, tool: Tool) -> str | None:
        rule = self.settings.families
        return rule(tool) if rule is not None else None

    def _key(self, tool: Tool) -> str:
        examples, learned = self.examples.get(tool.name, []), self.learned.get(tool.name, [])
        return document_key(tool, self._family_of(tool), examples, learned)

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
        if not len(self._index) or k <= 0:
            return []
        intents = list(parts) if parts else decompose(query) if split else [query]
        queries = [query] if len(intents) == 1 else [query, *intents]
        ranking = stages.pipeline(
            self._index,
            self.settings,
            k=k,
            mode=mode,
            use_families=families,
            use_diversity=diversify,
        )
        state = stages.run(ranking, stages.Candidates.start(self._index, queries))
        return stages.hits(self._index, state, k)

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
        return await stages.rerank(reranker, query, candidates, k)

    # -- persistence ----------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the index (compacted) to a directory; returns the directory."""
        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise UserError("Retriever.save needs a path (or a Retriever built with path=)")
        save_index(self._index, self.examples, target)
        if target == self.path:
            self._learning.keep()
        else:  # another place: a journal of what is learned now
            self._learning.copy_to(target)
        return target
