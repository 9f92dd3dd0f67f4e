"""`ToolIndex`: the indexed tools by slot, with their documents, postings and vectors.

Each tool holds one slot: its enhanced document, the document's BM25 tokens, its
vector, its family and the key it was built from (its content, family and
questions: a tool whose key changes is indexed again). A removed tool's slot stays
empty, so that adds and removes never renumber the others; `Retriever.save` writes
the live slots only. What a document says (examples, learned requests, the family
rule) is the retriever's business: the index takes documents ready made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from toolweave.retrieval._bm25 import BM25Index
from toolweave.retrieval._embedders import Embedder
from toolweave.retrieval._text import tokenize
from toolweave.retrieval._vectors import VectorIndex
from toolweave.tools import Tool

__all__ = ["ToolIndex"]


class ToolIndex:
    """Tools by slot: BM25 over their documents, their vectors, their families.

    Args:
        embedder: Embeds the documents (and, at search time, the queries).
        hnsw_threshold: From this many tools on, dense search is approximate (HNSW).
    """

    def __init__(self, embedder: Embedder, *, hnsw_threshold: int) -> None:
        self.embedder = embedder
        self.bm25 = BM25Index()
        self.vectors = VectorIndex(embedder.dim, hnsw_threshold=hnsw_threshold)
        self.slots: dict[str, int] = {}  # the live tools' slots, by name
        self.keys: list[str] = []  # what each slot's document was built from
        self.docs: list[str] = []
        self.tokens: list[list[str]] = []
        self.families: list[str | None] = []
        self.content: list[frozenset[str]] = []  # document words less the family's
        self._tools: list[Tool | None] = []
        self._codes: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.slots)

    def __contains__(self, name: object) -> bool:
        return name in self.slots

    @property
    def tools(self) -> list[Tool]:
        """The indexed tools, in slot order."""
        return [t for t in self._tools if t is not None]

    def tool(self, slot: int) -> Tool:
        """The tool in a live slot."""
        tool = self._tools[slot]
        assert tool is not None
        return tool

    def reconcile(
        self, wanted: Mapping[str, Tool], key: Callable[[Tool], str]
    ) -> tuple[list[str], list[Tool]]:
        """What holding exactly `wanted` takes: the names to remove, the tools to index.

        A tool whose `key` is the one its slot was built from stays, and its slot
        takes the live object (its function); a changed one is removed and indexed
        again.
        """
        stale = [n for n in self.slots if n not in wanted]
        fresh: list[Tool] = []
        for name, tool in wanted.items():
            slot = self.slots.get(name)
            if slot is None or self.keys[slot] != key(tool):
                if slot is not None:
                    stale.append(name)
                fresh.append(tool)
            else:
                self._tools[slot] = tool
        return stale, fresh

    def add(
        self,
        tools: Sequence[Tool],
        docs: Sequence[str],
        families: Sequence[str | None],
        keys: Sequence[str],
    ) -> None:
        """Index tools with their documents (a tool whose name is indexed replaces it)."""
        for tool in tools:
            if tool.name in self.slots:
                self.remove(tool.name)
        vectors = self.embedder.embed(docs) if docs else None
        self.append(tools, docs, [tokenize(d) for d in docs], vectors, families, keys)

    def append(
        self,
        tools: Sequence[Tool],
        docs: Sequence[str],
        tokens: Sequence[list[str]],
        vectors: npt.NDArray[np.float32] | None,
        families: Sequence[str | None],
        keys: Sequence[str],
    ) -> None:
        """Put tools in new slots, their documents already tokenized and embedded."""
        if not tools:
            return
        start = len(self._tools)
        assert vectors is not None
        self.vectors.add(start, vectors)
        self._codes = None
        for offset, tool in enumerate(tools):
            slot = start + offset
            self._tools.append(tool)
            self.keys.append(keys[offset])
            self.docs.append(docs[offset])
            self.tokens.append(tokens[offset])
            self.families.append(families[offset])
            own = set(tokenize(families[offset] or ""))
            self.content.append(frozenset(tokens[offset]) - own)
            self.slots[tool.name] = slot
            self.bm25.add(slot, tokens[offset])

    def remove(self, name: str) -> None:
        """Take a tool out (`KeyError` if it is not indexed)."""
        slot = self.slots.pop(name, None)
        if slot is None:
            raise KeyError(f"no tool named {name!r} is indexed")
        self._tools[slot] = None
        self._codes = None
        self.bm25.remove(slot)
        self.vectors.remove(slot)

    def live(self) -> list[tuple[str, int]]:
        """The live tools' names and slots, in slot order."""
        return sorted(self.slots.items(), key=lambda item: item[1])

    def family_codes(self) -> npt.NDArray[np.int64]:
        """Each slot's family as an integer (-1: none), rebuilt after a change."""
        if self._codes is None or len(self._codes) != len(self.families):
            numbers: dict[str, int] = {}
            self._codes = np.array(
                [-1 if f is None else numbers.setdefault(f, len(numbers)) for f in self.families],
                np.int64,
            )
        return self._codes
