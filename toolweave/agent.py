"""`Agent`: plan, execute while the plan streams, join, and replan when needed.

```
request -> Planner (streamed, parsed line by line) -> execute (fetcher + executor)
        -> Joiner -> Finish(answer) | Replan(reason) -> Planner again, numbering on
```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolweave._run import (
    RETRIEVE_ABOVE,
    Approve,
    Configured,
    Limits,
    OutputSpec,
    ResumeLedger,
    Run,
    assemble,
    run_events,
)
from toolweave.cost import Price, PriceTable
from toolweave.errors import UserError
from toolweave.events import EventQueue, RunEvents
from toolweave.executor import Executor
from toolweave.models import Model
from toolweave.planner import JoinerProtocol, PlannerProtocol, Prompts
from toolweave.result import RunResult
from toolweave.retrieval import Decomposition, Retriever, ScoredTool
from toolweave.session import Session, SessionStore
from toolweave.tools import AskUser, Tool, ToolRegistry, ask_user_tool
from toolweave.tools._registry import ToolSource

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["RETRIEVE_ABOVE", "Agent", "AskUser", "Limits", "RunEvents", "ask_user_tool"]


class Agent(Configured):
    """Answers requests by compiling them into parallel plans of tool calls.

    Args:
        model: The model (or a model string: ``"local"``, ``"openai:gpt-4o-mini"``,
            ``"openai:<model>@<base_url>"``) for the planner and the joiner.
        tools: The tools the planner may call, and tool sources (MCP servers,
            OpenAPI specs; `toolweave.sources`), which connect in ``async with agent``.
        joiner_model: A different model for the joiner, if wanted.
        max_replans, max_tasks, max_tokens, time_limit, max_cost, max_concurrency,
        skip_join, replan_on_success: The runs' `Limits` (see there); a run may be
            given others (``agent.run(..., limits=agent.limits.replace(...))``).
        approve: Asked before each call of a destructive tool; only ``True`` lets the
            call run (any other answer refuses it, as does having no `approve`; the
            joiner sees the refusal). When it answers ``None`` (nobody has decided
            yet), or with ``approve="pause"``, the run pauses once everything that
            does not wait on the call has run: see `resume`.
        executor: Where tool calls run; a `LocalExecutor` by default. With
            `approve`, a `LocalExecutor` (or `RayExecutor`) that may be shared: it
            asks this agent's `approve` for this agent's calls only.
        examples: Few-shot plan examples for these tools.
        ask_user: Answers the built-in ``ask_user`` tool, which the planner may call
            for information the request lacks (the REPL asks the person; an
            evaluation answers from the case). Without it the tool is not offered.
        retriever: Picks the `top_k` tools offered to each plan (a replan's reason joins
            the query); by default built on first use over `retrieve_above` tools.
        top_k, retrieve_above: How many tools it offers; from how many it is built.
        index_path: A directory for the index of the retriever built that way
            (loaded, updated, saved with what it learned); in memory without it.
        decompose: Before retrieving, have the model split the request into its
            intents (one short extra call); otherwise a cheap heuristic splits it.
        prices: Prices per model (`toolweave.cost.Price`, per million tokens), before
            the built-in table; or a whole `PriceTable`.
        tracer_provider: The OpenTelemetry tracer provider for the run's spans (the
            global one by default; only with opentelemetry-api, the ``otel`` extra).
        planner: Writes the plans, instead of a `Planner` on `model` (any object
            with `Planner.plan`'s signature: see `PlannerProtocol`).
        joiner: Reads the results and decides, instead of a `Joiner` on
            `joiner_model` or `model` (see `JoinerProtocol`).
        prompts: The texts the default planner and joiner are given (`Prompts`).
        resume_ledger: Where `resume` claims each pause, so that it resumes once (a
            `ResumeLedger`, or any object with its ``claim``); by default the user's.

    Example:
        ```python
        agent = Agent("local", tools=[population, calculator])
        result = await agent.run("What is the combined population of France and Spain?")
        print(result.answer)
        ```
    """

    def __init__(
        self,
        model: Model | str = "local",
        tools: ToolRegistry | Iterable[Tool | ToolSource] = (),
        *,
        joiner_model: Model | str | None = None,
        max_replans: int = 2,
        max_tasks: int = 64,
        max_tokens: int | None = None,
        time_limit: float | None = None,
        max_concurrency: int | None = None,
        approve: Approve | None = None,
        executor: Executor | None = None,
        skip_join: bool = False,
        examples: str | None = None,
        ask_user: AskUser | None = None,
        retriever: Retriever | None = None,
        top_k: int = 8,
        retrieve_above: int = RETRIEVE_ABOVE,
        index_path: str | Path | None = None,
        decompose: bool = True,
        prices: Mapping[str, Price] | PriceTable | None = None,
        max_cost: float | None = None,
        tracer_provider: TracerProvider | None = None,
        planner: PlannerProtocol | None = None,
        joiner: JoinerProtocol | None = None,
        prompts: Prompts | None = None,
        replan_on_success: bool = False,
        resume_ledger: ResumeLedger | None = None,
    ) -> None:
        limits = Limits(
            max_replans=max_replans,
            max_tasks=max_tasks,
            max_tokens=max_tokens,
            time_limit=time_limit,
            max_cost=max_cost,
            max_concurrency=max_concurrency,
            skip_join=skip_join,
            replan_on_success=replan_on_success,
        )
        parts = assemble(
            model,
            tools,
            limits=limits,
            resume_ledger=resume_ledger,
            joiner_model=joiner_model,
            approve=approve,
            executor=executor,
            examples=examples,
            ask_user=ask_user,
            retriever=retriever,
            top_k=top_k,
            retrieve_above=retrieve_above,
            index_path=index_path,
            decompose=decompose,
            prices=prices,
            tracer_provider=tracer_provider,
            planner=planner,
            joiner=joiner,
            prompts=prompts,
        )
        self.config = parts.config  # the limits and parts of `Configured`, as values
        self.model, self.prompts, self.models = parts.model, parts.prompts, parts.models
        self.offer, self.telemetry, self._parts = parts.offer, parts.telemetry, parts

    @property
    def resume_ledger(self) -> ResumeLedger:
        """Where `resume` claims pauses (the state directory's, made on first use)."""
        return self._parts.ledger.get()

    async def run(
        self,
        request: str,
        *,
        output_type: type[Any] | None = None,
        session: Session | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """Answer `request`.

        Args:
            request: The question or task.
            output_type: Answer with a value of this type (a pydantic model, a
                dataclass, a plain type), on `result.output`: the joiner answers in
                JSON, validated, with one repair if it does not match.
            session: A conversation (`Agent.session`) whose earlier turns the run
                sees, and which it joins as a turn.
            limits: This run's limits, instead of the agent's.

        Returns:
            The answer with every plan, task, model call and timing; ``paused`` with
            its `pending` calls when a destructive call waits for approval.

        Raises:
            BudgetExceeded: A limit was reached; `.result` keeps what finished.
            PlanError: The joiner's reply was unreadable, or a replan repeated the
                previous plan; `.result` keeps what finished.
            OutputError: The answer did not match `output_type`, even repaired.
            ModelError: The model endpoint failed; `.result` keeps what finished.
        """
        output = OutputSpec(output_type) if output_type is not None else None
        async with self._parts.sources_open():
            run = Run(self.config, request, None, limits=limits, output=output, session=session)
            return await run.run()

    async def resume(
        self,
        result: RunResult,
        approvals: Mapping[int, bool],
        *,
        output_type: type[Any] | None = None,
        session: Session | None = None,
        trust_unsigned: bool = False,
        limits: Limits | None = None,
    ) -> RunResult:
        """Go on with a paused run, given decisions for its pending calls.

        Finished tasks are not run again. An approved call runs; a refused one fails
        (the joiner sees the refusal); one left out of `approvals` waits again, and
        the run pauses again. `result` may come from `RunResult.from_json` in another
        process, read with the key it was signed with. A decision binds to the call
        `result.pending` shows (the same tool, the same arguments): each approved call
        is rebuilt from the state before anything runs, and the resume refused unless
        it is that call. A pause resumes once (`resume_ledger`); `result` then says
        ``resumed``, and the run goes on in the result returned.

        Args:
            result: The paused run.
            approvals: By pending call id (`result.pending`), ``True`` to run it,
                ``False`` to refuse it.
            output_type: As given to `run`, if it was.
            session: As given to `run`, if it was.
            trust_unsigned: Take a state read without a key (`RunResult.source`
                ``unsigned``), only one that never left your control: whoever can edit
                it can change the calls shown, add calls, or re-arm its pause.
            limits: As for `run`.

        Raises:
            StateError: The state was read without a key (see `trust_unsigned`), is
                malformed, does not rebuild the calls shown in `result.pending`, or
                its pause was resumed already.
            UserError: An id is not one of its pending calls, or a decision not a bool.
            BudgetExceeded, PlanError, OutputError, ModelError: As for `run`.
        """
        output = OutputSpec(output_type) if output_type is not None else None
        run = Run(
            self.config,
            result.request,
            None,
            limits=limits,
            output=output,
            session=session,
            resume=(result, approvals),
            trust_unsigned=trust_unsigned,
        )
        async with self._parts.sources_open():
            return await run.run()

    def run_sync(
        self,
        request: str,
        *,
        output_type: type[Any] | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """`run` for code without an event loop (tool sources connect for the call).

        Raises:
            UserError: Called where an event loop runs (async code, a notebook cell):
                there, ``await agent.run(...)``.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._run_in_own_loop(request, output_type, limits))
        raise UserError(
            "run_sync cannot run inside a running event loop (async code, a notebook): "
            "use `await agent.run(...)` there"
        )

    async def _run_in_own_loop(
        self, request: str, output_type: type[Any] | None, limits: Limits | None
    ) -> RunResult:
        """`run`, then release what the models hold on this loop, which is about to end."""
        try:
            return await self.run(request, output_type=output_type, limits=limits)
        finally:
            await self.models.release_loop()  # endpoint clients hold connections per loop

    def session(
        self,
        session_id: str | None = None,
        *,
        store: SessionStore | str | Path | None = None,
        max_history_tokens: int = 2_000,
    ) -> Session:
        """A conversation: a new one, or the stored one with this id (`Session.open`).

        Raises:
            UserError: No stored conversation has `session_id`.
        """
        return Session.open(self, session_id, store=store, max_history_tokens=max_history_tokens)

    @asynccontextmanager
    async def stream(
        self,
        request: str,
        *,
        output_type: type[Any] | None = None,
        session: Session | None = None,
        limits: Limits | None = None,
    ) -> AsyncIterator[RunEvents]:
        """Run `request` and iterate its events as they happen, in causal order.

        The last event is `RunFinished`; if the run ends by an error, iterating raises
        it after that event. Leaving the block early cancels the run. `output_type`,
        `session` and `limits` are as for `run`.

        Example:
            ```python
            async with agent.stream("...") as events:
                async for event in events:
                    ...
            ```
        """
        output = OutputSpec(output_type) if output_type is not None else None
        queue: EventQueue = asyncio.Queue()
        run = Run(
            self.config, request, queue.put_nowait, limits=limits, output=output, session=session
        )
        async with run_events(run, queue, self._parts.sources_open) as events:
            yield events

    async def load(self) -> None:
        """Pay one-time costs now rather than inside the first run.

        Loads a local model's weights and builds an endpoint client, so that the first
        run's first tool starts as soon as its plan line arrives. Idempotent.
        """
        await self.models.load()

    async def warm_up(self) -> None:
        """Send the planner's and the joiner's stable prompt prefixes once.

        Endpoints with prompt caching (the local model, vLLM, llama.cpp server) then
        skip most of the prompt on the first real request. Costs one short call each
        (none for a joiner that continues the planner's conversation, and none for
        the planner when a retriever varies its tools).
        """
        # with retrieval the planner's tool list varies (a planner of one's own: unread)
        await self.models.warm_up(lambda: list(self.tools) if self.retriever is None else None)

    def model_of(self, role: str) -> Model:
        """The model of a role's calls: a given planner's or joiner's own, or the agent's."""
        return self.models.of(role)

    @property
    def retriever(self) -> Retriever | None:
        """The retriever in use, built on first use for a large registry."""
        return self.offer.retriever

    def learn(self, result: RunResult, *, request: str | None = None) -> list[str]:
        """Teach the retriever that the tools this run called served its request.

        Call it for an answer that was right: later requests phrased alike then find
        those tools (`Retriever.learn`; kept on disk with a `path`). Only a finished
        run teaches, only its succeeded calls' tools; without a retriever, nothing.

        Args:
            result: The run.
            request: The request to learn, if not the run's own: a follow-up such as
                "and for Berlin?" means little alone, so pass it whole.

        Returns:
            The names of the tools taught, in the order they were called.
        """
        return self.offer.learn(result, request=request)

    async def offered_tools(
        self, query: str
    ) -> tuple[list[Tool], list[ScoredTool], Decomposition | None]:
        """The tools the planner sees for `query`: all, or the retriever's top k."""
        return await self.offer.first(query)

    async def __aenter__(self) -> Agent:
        """Open the tool sources (connect to MCP servers, load specs)."""
        await self._parts.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the tool sources and the models' connections, then the agent."""
        await self._parts.aclose()

    def close(self) -> None:
        """Release the executor's worker threads and the local models the agent made.

        A local model made from a string (``"local"``) frees its weights; a model passed
        in is the caller's (shared, perhaps: an evaluation runs many agents on one) and
        stays loaded.
        """
        self._parts.close()
