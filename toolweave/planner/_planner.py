"""`Planner`: stream the model's plan into the parser; yield tasks as lines complete."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from toolweave.errors import PlanError
from toolweave.fetcher import TaskResult
from toolweave.models import Message, Model, ModelSettings, Usage
from toolweave.plan import END_OF_PLAN, PlanItem, PlanParser, PlanTask
from toolweave.planner._prompts import planner_messages
from toolweave.tools import Tool

__all__ = ["PlanDraft", "Planner"]


@dataclass(slots=True)
class PlanDraft:
    """One plan as the model writes it: iterate for its items while it streams.

    After iteration, `text` holds the model's whole reply, `usage` its token usage,
    `tasks` and `rejected` what the parser made of it.
    """

    _items: AsyncGenerator[PlanItem, None]
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    tasks: list[PlanTask] = field(default_factory=list)
    rejected: list[PlanError] = field(default_factory=list)
    started_at: float = 0.0
    first_token_at: float | None = None
    finished_at: float | None = None

    def __aiter__(self) -> AsyncIterator[PlanItem]:
        return self._items

    async def aclose(self) -> None:
        """Stop the model's stream, if it is still going."""
        await self._items.aclose()


class Planner:
    """Asks a model for a plan in the LLMCompiler format and parses it as it streams.

    Args:
        model: The model that writes plans.
        examples: Few-shot examples in the plan format, for the tools at hand;
            generic ones by default.
        max_tokens: At most this many tokens per plan.
    """

    def __init__(
        self, model: Model, *, examples: str | None = None, max_tokens: int = 1024
    ) -> None:
        self.model = model
        self.examples = examples
        self.settings = ModelSettings(stop=(END_OF_PLAN,), max_tokens=max_tokens)

    def plan(
        self,
        request: str,
        tools: Sequence[Tool],
        *,
        history: Sequence[TaskResult] = (),
        rejected: Sequence[PlanError] = (),
        replan_reason: str | None = None,
        known_ids: Iterable[int] = (),
        unavailable: Mapping[int, str] | None = None,
        max_tokens: int | None = None,
    ) -> PlanDraft:
        """Start a plan (or a replan, given the earlier results and the reason).

        Args:
            request: The user's request.
            tools: The tools offered.
            history: The earlier plans' tasks, with their results (on a replan).
            rejected: The previous plan's rejected lines.
            replan_reason: Why the joiner asked for a new plan.
            known_ids: The ids of earlier tasks, which the plan may refer to.
            unavailable: Earlier tasks without a value (failed, skipped), with why:
                a line that refers to one is rejected.
            max_tokens: A tighter cap on the plan's tokens than the planner's own
                (what is left of a run's token budget).

        Returns:
            A `PlanDraft`: iterate it for `PlanTask`s and `PlanError`s, each as soon as
            its line is complete.

        Raises:
            ModelError: While iterating, if the model endpoint fails; the items
                yielded before stand.
        """
        known = sorted(set(known_ids))
        first_id = known[-1] + 1 if known else 1
        messages = planner_messages(
            request,
            tools,
            examples=self.examples,
            history=history,
            rejected=rejected,
            replan_reason=replan_reason,
            first_id=first_id,
        )
        parser = PlanParser(tools, known_ids=known, unavailable=unavailable)
        draft = PlanDraft(_nothing())
        draft._items = self._stream(draft, parser, messages, self.settings.capped(max_tokens))
        return draft

    async def _stream(
        self,
        draft: PlanDraft,
        parser: PlanParser,
        messages: list[Message],
        settings: ModelSettings,
    ) -> AsyncGenerator[PlanItem, None]:
        draft.started_at = time.perf_counter()
        try:
            async with self.model.stream(messages, settings) as response:
                try:
                    async for chunk in response:
                        if draft.first_token_at is None:
                            draft.first_token_at = time.perf_counter()
                        for item in parser.feed(chunk):
                            yield item
                        if parser.ended:
                            break
                    for item in parser.close():
                        yield item
                finally:
                    draft.text, draft.usage = response.text, response.usage
        finally:
            draft.tasks, draft.rejected = parser.tasks, parser.errors
            draft.finished_at = time.perf_counter()


async def _nothing() -> AsyncGenerator[PlanItem, None]:
    return
    yield
