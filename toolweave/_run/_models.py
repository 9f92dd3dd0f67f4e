"""The models an agent's runs call: by role, loaded, warmed up, released.

The planner and the joiner may have models of their own; the decomposer uses the
agent's. Endpoint clients hold connections per event loop, released when a loop ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from toolweave.models import Message, Model, ModelSettings
from toolweave.planner import Joiner, JoinerProtocol, Planner, PlannerProtocol, joiner_messages
from toolweave.tools import Tool

__all__ = ["ROLES", "RunModels"]

ROLES = ("planner", "joiner", "decomposer")
"""The roles of a run's model calls."""


class RunModels:
    """The models behind an agent's planner, joiner and decomposer.

    Args:
        model: The agent's model (the decomposer's, and the default of the others).
        planner: The planner; its ``model`` counts, if it has one.
        joiner: The joiner; its ``model`` counts, if it has one.
    """

    def __init__(self, model: Model, planner: PlannerProtocol, joiner: JoinerProtocol) -> None:
        self.model = model
        self.planner = planner
        self.joiner = joiner

    def of(self, role: str) -> Model:
        """The model that makes a role's calls (``planner``, ``joiner``, ``decomposer``)."""
        part = {"planner": self.planner, "joiner": self.joiner}.get(role)
        model = getattr(part, "model", None)
        return model if isinstance(model, Model) else self.model

    def names(self) -> dict[str, str]:
        """The model name per role."""
        return {role: self.of(role).name for role in ROLES}

    def distinct(self) -> list[Model]:
        """The distinct models called."""
        models = [self.model]
        for part in (self.planner, self.joiner):
            if isinstance(part, Planner | Joiner):
                models.append(part.model)
        return list({id(m): m for m in models}.values())

    async def load(self) -> None:
        """Load each model that loads (a local model's weights; an endpoint's client)."""
        for model in self.distinct():
            load = getattr(model, "load", None)
            if load is not None:
                await load()

    async def warm_up(self, tools: Callable[[], Sequence[Tool] | None]) -> None:
        """Send the planner's and the joiner's stable prompt prefixes once.

        Args:
            tools: Gives the tools every plan is offered, or `None` where they vary
                (with a retriever): the planner's prefix is then not stable, and not
                sent. Asked only for a `Planner`'s prefix.
        """
        settings = ModelSettings(max_tokens=1)
        prompts: list[tuple[Model, list[Message]]] = []
        planner, joiner = self.planner, self.joiner
        offered = tools() if isinstance(planner, Planner) else None
        if isinstance(planner, Planner) and offered is not None:
            prompts.append((planner.model, planner.messages("", list(offered))))
        if isinstance(joiner, Joiner) and not joiner.continue_plan:
            prompts.append((joiner.model, joiner_messages("", [], prompts=joiner.prompts)))
        for model, messages in prompts:
            async with model.stream(messages, settings) as response:
                async for _ in response:
                    pass

    async def release_loop(self) -> None:
        """Close what the models hold on the running event loop (endpoint connections)."""
        for model in self.distinct():
            aclose = getattr(model, "aclose", None)
            if aclose is not None:
                await aclose()
