"""An agent's parts, assembled once from its arguments: models, planner, joiner, offer.

`Agent.__init__` takes the user's arguments; this module turns them into the values
its runs use (`RunConfig`), checking what can be checked before any model loads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolweave._run._approval import Approve, approval_gate
from toolweave._run._config import Limits, RunConfig
from toolweave._run._ledger import LedgerSlot, ResumeLedger
from toolweave._run._models import RunModels
from toolweave._run._offer import ToolOffer
from toolweave.cost import Price, PriceTable
from toolweave.errors import UserError
from toolweave.executor import Executor, LocalExecutor
from toolweave.models import LocalModel, Model, resolve_model
from toolweave.planner import Joiner, JoinerProtocol, Planner, PlannerProtocol, Prompts
from toolweave.retrieval import Retriever
from toolweave.telemetry import SpanRecorder, Telemetry
from toolweave.tools import AskUser, Tool, ToolRegistry, ask_user_tool
from toolweave.tools._registry import ToolSource, as_registry

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["Parts", "assemble"]


@dataclass(slots=True, kw_only=True)
class Parts:
    """What an agent is made of (see `Agent`'s arguments), and how it is opened and closed."""

    tools: ToolRegistry
    model: Model
    owned: list[Model]
    """The models made here from strings: closed with the agent."""
    prompts: Prompts
    models: RunModels
    executor: Executor
    offer: ToolOffer
    prices: PriceTable
    telemetry: Telemetry | None
    ledger: LedgerSlot
    config: RunConfig

    def describe_tools(self) -> None:
        """Give the default joiner the tools it describes (those of a plan, once open)."""
        if isinstance(self.config.joiner, Joiner):
            self.config.joiner.tools = list(self.tools)

    @asynccontextmanager
    async def sources_open(self) -> AsyncIterator[None]:
        """The tool sources open for a run: already (``async with agent``), or for it."""
        if not self.tools.sources:
            yield
            return
        async with self.tools:
            self.describe_tools()
            yield

    async def open(self) -> None:
        """Open the tool sources (connect to MCP servers, load specs)."""
        await self.tools.open()
        self.describe_tools()

    async def aclose(self) -> None:
        """Close the tool sources and the models' connections, then `close`."""
        try:
            await self.tools.aclose()
            await self.models.release_loop()
        finally:
            self.close()

    def close(self) -> None:
        """Release the executor's threads, the ledger and the local models made here."""
        if isinstance(self.executor, LocalExecutor):
            self.executor.close()
        self.ledger.close()
        for model in self.owned:
            if isinstance(model, LocalModel):
                model.close()


def assemble(
    model: Model | str,
    tools: ToolRegistry | Iterable[Tool | ToolSource] | None,
    *,
    limits: Limits,
    resume_ledger: ResumeLedger | None = None,
    joiner_model: Model | str | None = None,
    approve: Approve | None = None,
    executor: Executor | None = None,
    examples: str | None = None,
    ask_user: AskUser | None = None,
    retriever: Retriever | None = None,
    top_k: int = 8,
    retrieve_above: int,
    index_path: str | Path | None = None,
    decompose: bool = True,
    prices: Mapping[str, Price] | PriceTable | None = None,
    tracer_provider: TracerProvider | None = None,
    planner: PlannerProtocol | None = None,
    joiner: JoinerProtocol | None = None,
    prompts: Prompts | None = None,
) -> Parts:
    """An agent's parts from its arguments.

    Raises:
        UserError: An argument that cannot work (no tool, ``approve`` with an executor
            that cannot ask, a retriever and an index path, a price missing for
            ``max_cost``, a limit of 0 or less).
    """
    if not top_k > 0:
        raise UserError(f"top_k must be positive, not {top_k!r}")
    registry = as_registry(tools if tools is not None else ())  # None: no tool, said below
    if ask_user is not None:
        registry = registry.extended([ask_user_tool(ask_user)])
    if not len(registry) and not registry.sources:  # said before a model is loaded
        raise UserError("an Agent needs at least one tool")
    own_model = resolve_model(model)
    owned = [own_model] if isinstance(model, str) else []  # made here: closed with it
    prompts = prompts or Prompts()
    planner = planner or Planner(own_model, examples=examples, prompts=prompts)
    own_joiner_model = resolve_model(joiner_model) if joiner_model else own_model
    if isinstance(joiner_model, str):
        owned.append(own_joiner_model)
    joiner = joiner or Joiner(
        own_joiner_model,
        prompts=prompts,
        tools=list(registry),
        # continuing the planner's conversation reuses its cache: the same model's
        continue_plan=joiner_model is None,
    )
    models = RunModels(own_model, planner, joiner)
    executor = executor or LocalExecutor()
    if approve is not None and not isinstance(executor, LocalExecutor):
        raise UserError(  # approvals happen in the executor
            f"approve= needs a LocalExecutor or a RayExecutor, not "
            f"{type(executor).__name__}: give your executor its own approver"
        )
    if retriever is not None and index_path is not None:
        raise UserError("index_path is for the retriever the agent builds; give yours a path")
    offer = ToolOffer(
        registry,
        own_model,
        retriever=retriever,
        top_k=top_k,
        retrieve_above=retrieve_above,
        index_path=index_path,
        decompose=decompose,
    )
    table = prices if isinstance(prices, PriceTable) else PriceTable(prices)
    telemetry = Telemetry.create(tracer_provider)
    ledger = LedgerSlot(resume_ledger)
    config = RunConfig(
        planner=planner,
        joiner=joiner,
        executor=executor,
        tools=registry,
        offer=offer,
        limits=limits,
        prices=table,
        models=models,
        # the executor asks this agent's approver for the calls of this agent's runs
        # (`RUN_APPROVER`): a shared executor, or another agent on it, never gets it
        approver=None if approve is None else approval_gate(approve),
        spans=None if telemetry is None else _spans(telemetry, models),
        ledger=ledger.get,
    )
    config.check(limits)
    return Parts(
        tools=registry,
        model=own_model,
        owned=owned,
        prompts=prompts,
        models=models,
        executor=executor,
        offer=offer,
        prices=table,
        telemetry=telemetry,
        ledger=ledger,
        config=config,
    )


def _spans(telemetry: Telemetry, models: RunModels) -> Callable[[], SpanRecorder | None]:
    def recorder() -> SpanRecorder | None:  # names as they are now: a local model's load
        return telemetry.recorder(models.of("planner").name, models.of("joiner").name)

    return recorder
