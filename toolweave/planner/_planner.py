"""`Planner`: stream the model's plan into the parser; yield tasks as lines complete."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from toolweave.errors import PlanError
from toolweave.fetcher import TaskResult
from toolweave.models import Message, Model, ModelSettings, ModelStream, Usage
from toolweave.plan import END_OF_PLAN, PlanItem, PlanParser, PlanTask, plan_grammar
from toolweave.planner._prompts import EarlierPlan, Prompts, planner_messages
from toolweave.tools import Tool

__all__ = ["PlanDraft", "Planner", "PlannerProtocol", "kept_text"]


@dataclass(slots=True)
class PlanDraft:
    """One plan as the model writes it: iterate for its items while it streams.

    After iteration, `text` holds the model's whole reply, `usage` its token usage,
    `tasks` and `rejected` what the parser made of it, `cut` the line at which the
    parser ended a looping plan (see `PlanParser`); `messages` are what the model
    was asked with (a joiner may continue that conversation, with `kept_text`).
    """

    _items: AsyncGenerator[PlanItem, None]
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    tasks: list[PlanTask] = field(default_factory=list)
    rejected: list[PlanError] = field(default_factory=list)
    cut: PlanError | None = None
    started_at: float = 0.0
    first_token_at: float | None = None
    finished_at: float | None = None
    messages: list[Message] = field(default_factory=list)

    @property
    def kept_text(self) -> str:
        """The reply up to the line where the plan was cut (all of it, if it was not)."""
        return kept_text(self.text, self.cut)

    def __aiter__(self) -> AsyncIterator[PlanItem]:
        return self._items

    async def aclose(self) -> None:
        """Stop the model's stream, if it is still going."""
        await self._items.aclose()


@runtime_checkable
class PlannerProtocol(Protocol):
    """What an `Agent` needs of a planner (``Agent(planner=...)``)."""

    def plan(
        self,
        request: str,
        tools: Sequence[Tool],
        *,
        earlier: Sequence[EarlierPlan] = (),
        history: Sequence[TaskResult] = (),
        known_ids: Iterable[int] = (),
        unavailable: Mapping[int, str] | None = None,
        max_tokens: int | None = None,
    ) -> PlanDraft:
        """Start a plan for `request` with `tools`; a replan when `earlier` is given.

        `known_ids` are the ids the run's tasks already hold: the plan's refs may
        name them, and its own ids must be new; `unavailable` are those without a
        value (a line that uses one is rejected); `max_tokens` caps the plan;
        `history` are earlier turns' results (a session's), usable as ``$N``.
        """
        ...


class Planner:
    """Asks a model for a plan in the LLMCompiler format and parses it as it streams.

    Args:
        model: The model that writes plans.
        examples: Few-shot examples in the plan format, for the tools at hand;
            generic ones by default (overrides `prompts.examples`).
        max_tokens: At most this many tokens per plan.
        prompts: The prompt texts; the defaults otherwise.
        grammar: Send a grammar of plans for the offered tools with each request
            (`plan_grammar`, numbered from the first free id, refs only to earlier
            tasks with a value), which models that can constrain decoding apply.
    """

    def __init__(
        self,
        model: Model,
        *,
        examples: str | None = None,
        max_tokens: int = 1024,
        prompts: Prompts | None = None,
        grammar: bool = True,
    ) -> None:
        self.model = model
        self.grammar = grammar
        prompts = prompts or Prompts()
        self.prompts = prompts if examples is None else replace(prompts, examples=examples)
        self.settings = ModelSettings(stop=(END_OF_PLAN,), max_tokens=max_tokens)

    @property
    def examples(self) -> str:
        """The few-shot examples in use."""
        return self.prompts.examples

    def messages(
        self,
        request: str,
        tools: Sequence[Tool],
        *,
        earlier: Sequence[EarlierPlan] = (),
        history: Sequence[TaskResult] = (),
        first_id: int = 1,
    ) -> list[Message]:
        """The messages a plan (or a replan) sends to the model."""
        return planner_messages(
            request,
            tools,
            prompts=self.prompts,
            earlier=earlier,
            history=history,
            first_id=first_id,
        )

    def plan(
        self,
        request: str,
        tools: Sequence[Tool],
        *,
        earlier: Sequence[EarlierPlan] = (),
        history: Sequence[TaskResult] = (),
        known_ids: Iterable[int] = (),
        unavailable: Mapping[int, str] | None = None,
        max_tokens: int | None = None,
    ) -> PlanDraft:
        """Start a plan (or a replan, given the earlier plans, their results, the reasons).

        Args:
            request: The user's request.
            tools: The tools offered.
            earlier: On a replan, the run's earlier plans, each with its results,
                rejected lines and the joiner's reason: the replan continues their
                conversation.
            history: Earlier turns' results (a session's), usable by reference.
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
        messages = self.messages(
            request, tools, earlier=earlier, history=history, first_id=first_id
        )
        parser = PlanParser(tools, known_ids=known, unavailable=unavailable)
        settings = self.settings.capped(max_tokens)
        # numbered from first_id; refs to tasks with values; not written for a model
        # that would drop it (see `ModelSettings.grammar`)
        if self.grammar and tools and getattr(self.model, "takes_grammar", True):
            usable = [i for i in known if i not in (unavailable or {})]
            grammar = plan_grammar(tools, first_id=first_id, known_ids=usable)
            settings = replace(settings, grammar=grammar.gbnf())
        draft = PlanDraft(_nothing(), messages=messages)
        draft._items = self._stream(draft, parser, messages, settings)
        return draft

    async def _stream(
        self,
        draft: PlanDraft,
        parser: PlanParser,
        messages: list[Message],
        settings: ModelSettings,
    ) -> AsyncGenerator[PlanItem, None]:
        draft.started_at = time.perf_counter()
        response: ModelStream | None = None
        try:
            async with self.model.stream(messages, settings) as response:
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
            if response is not None:  # read after the stream closed: its usage is final
                draft.text, draft.usage = response.text, response.usage
            draft.tasks, draft.rejected, draft.cut = parser.tasks, parser.errors, parser.cut
            draft.finished_at = time.perf_counter()


def kept_text(text: str, cut: PlanError | None) -> str:
    """`text` up to the line `cut` names: what a conversation keeps of a cut plan."""
    at = -1 if cut is None or not cut.line else text.find(cut.line)
    return text if at < 0 else text[:at]


async def _nothing() -> AsyncGenerator[PlanItem, None]:
    return
    yield
