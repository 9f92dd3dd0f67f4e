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

from toolweave._approval import Approve, approval_gate
from toolweave._ask_user import AskUser, ask_user_tool
from toolweave._output import OutputSpec
from toolweave._result import RunResult
from toolweave._resume import ResumeLedger
from toolweave._run import Run
from toolweave._stream import EventQueue, RunEvents, run_events
from toolweave.cost import Price, PriceTable
from toolweave.errors import UserError
from toolweave.executor import Executor, LocalExecutor
from toolweave.fetcher import TaskState
from toolweave.models import LocalModel, Message, Model, ModelSettings, resolve_model
from toolweave.planner import (
    Joiner,
    JoinerProtocol,
    Planner,
    PlannerProtocol,
    Prompts,
    joiner_messages,
)
from toolweave.session import Session, SessionStore
from toolweave.telemetry import Telemetry
from toolweave.tools import Retriever, ScoredTool, Tool, ToolRegistry
from toolweave.tools._decompose import Decomposition, decompose_with_model
from toolweave.tools._registry import ToolSource, as_registry

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["Agent", "AskUser", "RunEvents", "ask_user_tool"]

RETRIEVE_ABOVE = 30
"""An agent with more tools than this retrieves the planner's; below, it offers all."""


class Agent:
    """Answers requests by compiling them into parallel plans of tool calls.

    Args:
        model: The model (or a model string: ``"local"``, ``"openai:gpt-4o-mini"``,
            ``"openai:<model>@<base_url>"``) for the planner and the joiner.
        tools: The tools the planner may call, and tool sources (MCP servers,
            OpenAPI specs; `toolweave.sources`), which connect in ``async with agent``.
        joiner_model: A different model for the joiner, if wanted.
        max_replans: How many times the joiner may ask for a new plan.
        max_tasks: At most this many tasks per plan.
        max_tokens: At most this many tokens (prompt and completion) per run.
        time_limit: At most this many seconds per run.
        max_concurrency: How many tool calls may run at once.
        approve: Asked before each call of a destructive tool; only ``True`` lets
            the call run (``False``, or any other answer such as ``"no"``, refuses it;
            without `approve` every such call is refused, and the joiner sees the
            refusal). When it answers ``None``
            (nobody has decided yet), or with ``approve="pause"``, the run pauses
            once everything that does not wait on the call has run: see `resume`.
        executor: Where tool calls run; a `LocalExecutor` by default. With
            `approve`, a `LocalExecutor` (or `RayExecutor`) that may be shared: it
            asks this agent's `approve` for this agent's calls only.
        skip_join: When a plan succeeds entirely, answer with its last task's value
            instead of calling the joiner (for plans whose last step is the answer).
        examples: Few-shot plan examples for these tools.
        ask_user: Answers the built-in ``ask_user`` tool, which the planner may call
            for information the request lacks (the REPL asks the person; an
            evaluation answers from the case). Without it the tool is not offered.
        retriever: Picks the tools offered to the planner, for each plan; by default
            one is built (on first use) when there are more than `retrieve_above`
            tools. On a replan the joiner's reason joins the query.
        top_k: How many tools the retriever offers the planner.
        retrieve_above: Build a retriever when there are more tools than this.
        index_path: A directory for the index of the retriever built that way: loaded
            if there, brought up to date, saved, with what it learned (`learn`);
            without it the index lives in memory for the agent's lifetime.
        decompose: Before retrieving, have the model split the request into its
            intents (one short extra call); otherwise a cheap heuristic splits it.
        prices: Prices per model (`toolweave.cost.Price`, per million tokens), before
            the built-in table; or a whole `PriceTable`.
        max_cost: At most this much money per run (in the prices' currency).
        tracer_provider: The OpenTelemetry tracer provider for the run's spans; the
            global one by default. Spans are made only where opentelemetry-api is
            installed (the ``otel`` extra).
        planner: Writes the plans, instead of a `Planner` on `model` (any object
            with `Planner.plan`'s signature: see `PlannerProtocol`).
        joiner: Reads the results and decides, instead of a `Joiner` on
            `joiner_model` or `model` (see `JoinerProtocol`).
        prompts: The texts the default planner and joiner are given (`Prompts`).
        replan_on_success: Let the joiner ask for a new plan even when every task
            of the run succeeded and no plan line was rejected. Off by default: a
            small model asks for replans that repeat calls that already answered,
            so a plan that fully succeeded is answered from (the joiner must finish).
        resume_ledger: Where `resume` claims each pause, so that it resumes once:
            a `ResumeLedger` (or any object with its ``claim``); by default one in
            the user's state directory, shared by the processes of this user.

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
        if max_replans < 0 or max_tasks < 1:
            raise UserError("max_replans must be >= 0 and max_tasks >= 1")
        _check_limits(
            max_tokens=max_tokens,
            time_limit=time_limit,
            max_cost=max_cost,
            max_concurrency=max_concurrency,
            top_k=top_k,
        )
        self.tools = as_registry(tools if tools is not None else ())  # None: no tool, said below
        if ask_user is not None:
            self.tools = self.tools.extended([ask_user_tool(ask_user)])
        if not len(self.tools) and not self.tools.sources:  # said before a model is loaded
            raise UserError("an Agent needs at least one tool")
        self.model = resolve_model(model)
        self._owned = [self.model] if isinstance(model, str) else []  # made here: closed here
        self.prompts = prompts or Prompts()
        self.planner: PlannerProtocol = planner or Planner(
            self.model, examples=examples, prompts=self.prompts
        )
        own_joiner_model = resolve_model(joiner_model) if joiner_model else self.model
        if isinstance(joiner_model, str):
            self._owned.append(own_joiner_model)
        self.joiner: JoinerProtocol = joiner or Joiner(
            own_joiner_model,
            prompts=self.prompts,
            tools=list(self.tools),
            # continuing the planner's conversation reuses its cache: the same model's
            continue_plan=joiner_model is None,
        )
        self.replan_on_success = replan_on_success
        self.max_replans = max_replans
        self.max_tasks = max_tasks
        self.max_tokens = max_tokens
        self.time_limit = time_limit
        self.max_concurrency = max_concurrency
        self.executor: Executor = executor or LocalExecutor()
        if approve is not None and not isinstance(self.executor, LocalExecutor):
            raise UserError(  # approvals happen in the executor
                f"approve= needs a LocalExecutor or a RayExecutor, not "
                f"{type(self.executor).__name__}: give your executor its own approver"
            )
        # the executor asks this agent's approver for the calls of this agent's runs
        # (`RUN_APPROVER`): a shared executor, or another agent on it, never gets it
        self.approval = None if approve is None else approval_gate(approve)
        self.skip_join = skip_join
        if retriever is not None and index_path is not None:
            raise UserError("index_path is for the retriever the agent builds; give yours a path")
        self._retriever = retriever
        self.top_k = top_k
        self.retrieve_above = retrieve_above
        self.index_path = index_path
        self.decompose = decompose
        self.prices = prices if isinstance(prices, PriceTable) else PriceTable(prices)
        self.max_cost = max_cost
        if max_cost is not None:
            self.prices.require([m.name for m in self._models()], for_what="max_cost")
        self.telemetry = Telemetry.create(tracer_provider)
        self._resume_ledger = resume_ledger
        self._own_ledger = resume_ledger is None  # made here on first use: closed here

    @property
    def resume_ledger(self) -> ResumeLedger:
        """Where `resume` claims pauses (the state directory's, made on first use)."""
        if self._resume_ledger is None:
            self._resume_ledger = ResumeLedger()
        return self._resume_ledger

    async def run(
        self,
        request: str,
        *,
        output_type: type[Any] | None = None,
        session: Session | None = None,
    ) -> RunResult:
        """Answer `request`.

        Args:
            request: The question or task.
            output_type: Answer with a value of this type (a pydantic model, a
                dataclass, a plain type), on `result.output`: the joiner answers in
                JSON, validated, with one repair if it does not match.
            session: A conversation (`Agent.session`) whose earlier turns the run
                sees, and which it joins as a turn.

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
        async with self._sources_open():
            return await Run(self, request, None, output=output, session=session).run()

    async def resume(
        self,
        result: RunResult,
        approvals: Mapping[int, bool],
        *,
        output_type: type[Any] | None = None,
        session: Session | None = None,
        trust_unsigned: bool = False,
    ) -> RunResult:
        """Go on with a paused run, given decisions for its pending calls.

        Finished tasks are not run again. An approved call runs; a refused one fails
        (the joiner sees the refusal); a pending call left out of `approvals` waits
        again, and the run pauses again. `result` may come from `RunResult.from_json`
        in another process, read with the key it was signed with.

        A decision is bound to the pending call it names, as `result.pending` shows
        it: the same tool with the same arguments. Before anything runs, each
        approved call is rebuilt from the state and the resume is refused unless it
        is that call; a pause resumes once (`resume_ledger`), after which `result`
        says ``resumed`` and the run goes on in the result returned.

        Args:
            result: The paused run.
            approvals: By pending call id (`result.pending`), ``True`` to run it,
                ``False`` to refuse it.
            output_type: As given to `run`, if it was.
            session: As given to `run`, if it was.
            trust_unsigned: Take a state read without a key (`RunResult.source`
                ``unsigned``). Only for a state that never left your control: whoever
                can edit it can change the calls shown for approval, add calls that
                need none, or re-arm its pause under another id.

        Raises:
            StateError: The state was read without a key (see `trust_unsigned`), is
                malformed, does not rebuild the calls shown in `result.pending`, or
                its pause was resumed already.
            UserError: An id is not one of its pending calls, or a decision not a bool.
            BudgetExceeded, PlanError, OutputError, ModelError: As for `run`.
        """
        output = OutputSpec(output_type) if output_type is not None else None
        run = Run(
            self,
            result.request,
            None,
            output=output,
            session=session,
            resume=(result, approvals),
            trust_unsigned=trust_unsigned,
        )
        async with self._sources_open():
            return await run.run()

    def run_sync(self, request: str, *, output_type: type[Any] | None = None) -> RunResult:
        """`run` for code without an event loop (tool sources connect for the call).

        Raises:
            UserError: Called where an event loop runs (async code, a notebook cell):
                there, ``await agent.run(...)``.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._run_in_own_loop(request, output_type))
        raise UserError(
            "run_sync cannot run inside a running event loop (async code, a notebook): "
            "use `await agent.run(...)` there"
        )

    async def _run_in_own_loop(self, request: str, output_type: type[Any] | None) -> RunResult:
        """`run`, then release what the models hold on this loop, which is about to end."""
        try:
            return await self.run(request, output_type=output_type)
        finally:
            await self._release_loop()

    async def _release_loop(self) -> None:
        for model in self._models():
            aclose = getattr(model, "aclose", None)  # endpoint clients hold connections
            if aclose is not None:
                await aclose()

    @asynccontextmanager
    async def _sources_open(self) -> AsyncIterator[None]:
        """The tool sources open for a run: already (``async with agent``), or for it."""
        if not self.tools.sources:
            yield
            return
        async with self.tools:
            self._describe_tools()
            yield

    def session(
        self,
        session_id: str | None = None,
        *,
        store: SessionStore | str | Path | None = None,
        max_history_tokens: int = 2_000,
    ) -> Session:
        """A conversation: a new one, or the stored one with this id.

        Args:
            session_id: Resume this conversation; a new one when `None`.
            store: Where conversations are kept: a `SessionStore`, a database path,
                or ``":memory:"``; the user's state directory by default.
            max_history_tokens: About how many tokens of earlier turns the planner
                may see; the oldest turns go first.

        Raises:
            UserError: No stored conversation has `session_id`.
        """
        kept = store if isinstance(store, SessionStore) else SessionStore(store)
        if session_id is None:
            session_id = kept.create()
        elif not kept.exists(session_id):
            raise UserError(f"no conversation {session_id!r} in {kept.path}")
        return Session(self, kept, session_id, max_history_tokens=max_history_tokens)

    @asynccontextmanager
    async def stream(
        self,
        request: str,
        *,
        output_type: type[Any] | None = None,
        session: Session | None = None,
    ) -> AsyncIterator[RunEvents]:
        """Run `request` and iterate its events as they happen, in causal order.

        The last event is `RunFinished`; if the run ends by an error, iterating raises
        it after that event. Leaving the block early cancels the run. `output_type`
        and `session` are as for `run`.

        Example:
            ```python
            async with agent.stream("...") as events:
                async for event in events:
                    ...
            ```
        """
        output = OutputSpec(output_type) if output_type is not None else None
        queue: EventQueue = asyncio.Queue()
        run = Run(self, request, queue.put_nowait, output=output, session=session)
        async with run_events(run, queue, self._sources_open) as events:
            yield events

    async def load(self) -> None:
        """Pay one-time costs now rather than inside the first run.

        Loads a local model's weights, and imports and builds what an endpoint
        client builds lazily, so that the first run's first tool starts as soon as
        its plan line arrives. Calling it again does nothing.
        """
        for model in self._models():
            load = getattr(model, "load", None)
            if load is not None:
                await load()

    async def warm_up(self) -> None:
        """Send the planner's and the joiner's stable prompt prefixes once.

        Endpoints with prompt caching (the local model, vLLM, llama.cpp server) then
        skip most of the prompt on the first real request. Costs one short call each
        (none for a joiner that continues the planner's conversation).
        """
        settings = ModelSettings(max_tokens=1)
        prompts: list[tuple[Model, list[Message]]] = []
        planner, joiner = self.planner, self.joiner
        if isinstance(planner, Planner) and self.retriever is None:
            # with retrieval, the planner's tool list varies
            prompts.append((planner.model, planner.messages("", list(self.tools))))
        if isinstance(joiner, Joiner) and not joiner.continue_plan:
            prompts.append((joiner.model, joiner_messages("", [], prompts=joiner.prompts)))
        for model, messages in prompts:
            async with model.stream(messages, settings) as response:
                async for _ in response:
                    pass

    def model_of(self, role: str) -> Model:
        """The model that makes a role's calls (``planner``, ``joiner``, ``decomposer``).

        A planner or joiner given to the Agent counts with its own ``model``, if it
        has one; otherwise (and for the decomposer) the agent's model.
        """
        part = {"planner": self.planner, "joiner": self.joiner}.get(role)
        model = getattr(part, "model", None)
        return model if isinstance(model, Model) else self.model

    def _models(self) -> list[Model]:
        """The distinct models this agent calls."""
        models = [self.model]
        for part in (self.planner, self.joiner):
            if isinstance(part, Planner | Joiner):
                models.append(part.model)
        return list({id(m): m for m in models}.values())

    @property
    def retriever(self) -> Retriever | None:
        """The retriever in use, built on first use for a large registry."""
        if self._retriever is None and len(self.tools) > self.retrieve_above:
            indexed = [t for t in self.tools if t.name != "ask_user"]  # offered every time
            self._retriever = Retriever(indexed, path=self.index_path)
        return self._retriever

    def learn(self, result: RunResult, *, request: str | None = None) -> list[str]:
        """Teach the retriever that the tools this run called served its request.

        Call it for an answer that was right (the user accepted it): later requests
        phrased alike then find those tools (`Retriever.learn`; a retriever with a
        `path` keeps them on disk). Only a finished run teaches, and only the tools
        whose calls succeeded. An agent without a retriever offers the planner every
        tool, so it has nothing to learn.

        Args:
            result: The run.
            request: The request to learn, if not the run's own: a follow-up such as
                "and for Berlin?" means little alone, so pass it whole.

        Returns:
            The names of the tools taught, in the order they were called.
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
            and record.task.tool != "ask_user"  # offered with every plan
            and record.task.tool in retriever
        ]
        names = list(dict.fromkeys(called))
        if names:
            retriever.learn(request or result.request, names)
        return names

    async def offered_tools(
        self, query: str
    ) -> tuple[list[Tool], list[ScoredTool], Decomposition | None]:
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

    async def __aenter__(self) -> Agent:
        """Open the tool sources (connect to MCP servers, load specs)."""
        await self.tools.open()
        self._describe_tools()
        return self

    def _describe_tools(self) -> None:
        """Give the default joiner the tools it describes (those of a plan, once open)."""
        if isinstance(self.joiner, Joiner):
            self.joiner.tools = list(self.tools)

    async def __aexit__(self, *exc: object) -> None:
        """Close the tool sources and the models' connections, then `close` the agent."""
        try:
            await self.tools.aclose()
            await self._release_loop()
        finally:
            self.close()

    def close(self) -> None:
        """Release the executor's worker threads and the local models the agent made.

        A local model made from a string (``"local"``) frees its weights; a model passed
        in is the caller's (shared, perhaps: an evaluation runs many agents on one) and
        stays loaded.
        """
        if isinstance(self.executor, LocalExecutor):
            self.executor.close()
        if self._resume_ledger is not None and self._own_ledger:
            self._resume_ledger.close()
            self._resume_ledger = None
        for model in self._owned:
            if isinstance(model, LocalModel):
                model.close()


def _check_limits(**limits: float | None) -> None:
    """Limits given as 0 or less would stop every run, or (a semaphore of 0) none."""
    for name, value in limits.items():
        if value is not None and not value > 0:
            raise UserError(f"{name} must be positive, not {value!r}")
