"""The tools each plan is offered: all of them, or the retriever's top k for the request.

A large registry (more than `retrieve_above` tools) gets a retriever on first use; a
replan keeps the tools offered before, in their order (the planner's prompt prefix, and
the endpoint's cache of it, stay the same), and adds those its reason names.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from toolweave.errors import UserError
from toolweave.events import EventSink, ToolsRetrieved
from toolweave.fetcher import TaskState
from toolweave.models import Model
from toolweave.result import ModelCall, RunResult
from toolweave.retrieval import Decomposition, Retriever, ScoredTool, decompose_with_model
from toolweave.tools import Tool, ToolRegistry

__all__ = [
    "RETRIEVE_ABOVE",
    "ToolOffer",
    "offered_first",
    "offered_more",
    "tools_for_reason",
]

RETRIEVE_ABOVE = 30
"""An agent with more tools than this retrieves the planner's; below, it offers all."""

_WORD = re.compile(r"[A-Za-z_][\w.-]*")


class ToolOffer:
    """Picks the tools offered to each plan of an agent's runs.

    Args:
        tools: The agent's registry.
        model: Splits a request into its intents, with `decompose` on.
        retriever: The retriever to use; by default one is built on first use when
            there are more than `retrieve_above` tools.
        top_k: How many tools the retriever offers.
        retrieve_above: Build a retriever when there are more tools than this.
        index_path: Where the retriever built here keeps its index.
        decompose: Split the request with the model before retrieving.
    """

    def __init__(
        self,
        tools: ToolRegistry,
        model: Model,
        *,
        retriever: Retriever | None = None,
        top_k: int = 8,
        retrieve_above: int = RETRIEVE_ABOVE,
        index_path: str | Path | None = None,
        decompose: bool = True,
    ) -> None:
        self.tools = tools
        self.model = model
        self._retriever = retriever
        self.top_k = top_k
        self.retrieve_above = retrieve_above
        self.index_path = index_path
        self.decompose = decompose

    @property
    def retriever(self) -> Retriever | None:
        """The retriever in use, built on first use for a large registry."""
        if self._retriever is None and len(self.tools) > self.retrieve_above:
            indexed = [t for t in self.tools if t.name != "ask_user"]  # offered every time
            self._retriever = Retriever(indexed, path=self.index_path)
        return self._retriever

    async def first(self, query: str) -> tuple[list[Tool], list[ScoredTool], Decomposition | None]:
        """The tools the planner sees for `query`: all, or the retriever's top k.

        With `decompose` on, the model first splits the query into its intents.
        """
        retriever = self.retriever
        if retriever is None:
            return list(self.tools), [], None
        split = await decompose_with_model(self.model, query) if self.decompose else None
        hits = retriever.search(query, self.top_k, parts=split.parts if split else None)
        offered = [hit.tool for hit in hits]
        ask = self.tools.get("ask_user")
        if ask is not None and ask not in offered:  # asking the user is always an option
            offered.append(ask)
        return offered, hits, split

    def learn(self, result: RunResult, *, request: str | None = None) -> list[str]:
        """Teach the retriever that the tools a finished run called served its request.

        Only the tools whose calls succeeded (``ask_user`` aside: it is offered with
        every plan). Without a retriever every tool is offered: nothing to learn.

        Returns:
            The names of the tools taught, in the order they were called.

        Raises:
            UserError: The run did not finish.
        """
        if result.status != "finished":
            raise UserError(
                f"only a finished run can teach the retriever, not a {result.status} one"
            )
        retriever = self.retriever
        if retriever is None:
            return []
        called = [
            record.task.tool
            for record in sorted(result.tasks.values(), key=lambda r: r.task.id)
            if record.state is TaskState.SUCCEEDED
            and record.task.tool != "ask_user"
            and record.task.tool in retriever
        ]
        names = list(dict.fromkeys(called))
        if names:
            retriever.learn(request or result.request, names)
        return names

    def more(self, offered: Sequence[Tool], reason: str) -> tuple[list[Tool], list[ScoredTool]]:
        """Tools to add to a replan (none without a retriever): see `tools_for_reason`."""
        retriever = self.retriever
        if retriever is None:
            return [], []
        return tools_for_reason(offered, reason, self.tools, retriever)


def tools_for_reason(
    offered: Sequence[Tool], reason: str, registry: ToolRegistry, retriever: Retriever
) -> tuple[list[Tool], list[ScoredTool]]:
    """Tools to add to a replan: those the reason names, and retrieval's top 2 for it.

    Only tools not offered yet; the offered ones stay, in their order, so that the
    planner's prompt prefix (and the endpoint's cache of it) stays the same.
    """
    names = {t.name for t in offered}
    named = [t for n in sorted(set(_WORD.findall(reason)) - names) if (t := registry.get(n))]
    hits = [h for h in retriever.search(reason, 2, split=False) if h.tool.name not in names]
    added = {t.name: t for t in [*named, *(h.tool for h in hits)]}
    return list(added.values()), hits


async def offered_first(
    offer: ToolOffer, query: str, result: RunResult, emit: EventSink
) -> list[Tool]:
    """The tools of a run's first plan; the decomposer's call and the hits recorded."""
    retrieving = time.perf_counter()
    tools, hits, split = await offer.first(query)
    if split is not None:
        now = time.perf_counter()
        result.calls.append(
            ModelCall(
                "decomposer", split.usage, now - split.seconds, now, text="\n".join(split.parts)
            )
        )
    if hits:
        emit(
            ToolsRetrieved(
                run_id=result.run_id,
                query=query,
                hits=tuple(hits),
                duration=time.perf_counter() - retrieving,
            )
        )
    return tools


def offered_more(
    offer: ToolOffer, tools: list[Tool], reason: str, run_id: str, emit: EventSink
) -> list[Tool]:
    """The tools of a replan: the same as before, plus any the reason asks for."""
    retrieving = time.perf_counter()
    added, hits = offer.more(tools, reason)
    if not added:
        return tools
    emit(
        ToolsRetrieved(
            run_id=run_id, query=reason, hits=tuple(hits), duration=time.perf_counter() - retrieving
        )
    )
    return [*tools, *added]
