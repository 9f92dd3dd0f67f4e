"""`Agent`: plan, execute while the plan streams, join, and replan when needed.

```
request -> Planner (streamed, parsed line by line) -> execute (fetcher + executor)
        -> Joiner -> Finish(answer) | Replan(reason) -> Planner again, numbering on
```
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeAlias

from toolweave._result import ModelCall, PlanRecord, RunResult, RunStatus
from toolweave.errors import BudgetExceeded, ModelError, PlanError, ToolweaveError, UserError
from toolweave.events import (
    Event,
    EventSink,
    JoinDecided,
    PlanFinished,
    Replanned,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskPlanned,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
    ToolsRetrieved,
)
from toolweave.executor import Approver, Executor, LocalExecutor
from toolweave.fetcher import TaskResult, TaskState, execute
from toolweave.models import Model, ModelSettings, resolve_model
from toolweave.plan import PlanItem, PlanTask, render_text
from toolweave.planner import Finish, Joiner, PlanDraft, Planner, joiner_messages, planner_messages
from toolweave.planner._shape import PlanShape
from toolweave.tools import Retriever, ScoredTool, Tool, ToolRegistry
from toolweave.tools._registry import as_registry

__all__ = ["Agent", "AskUser", "RunEvents", "ask_user_tool"]

AskUser: TypeAlias = Callable[[str], Awaitable[str] | str]
"""Answers a question for the person (or the case) the agent works for."""


def ask_user_tool(answer: AskUser) -> Tool:
    """The built-in ``ask_user`` tool, answered by `answer`."""

    async def ask_user(question: str) -> str:
        reply = answer(question)
        return await reply if inspect.isawaitable(reply) else reply

    return Tool.from_schema(
        "ask_user",
        "Ask the user for information that the request lacks and no tool can find "
        "(a preference, a choice, a personal detail). Returns the user's answer.",
        {
            "type": "object",
            "properties": {"question": {"type": "string", "description": "One clear question."}},
            "required": ["question"],
        },
        ask_user,
        idempotent=False,
    )


class Agent:
    """Answers requests by compiling them into parallel plans of tool calls.

    Args:
        model: The model (or a model string: ``"local"``, ``"openai:gpt-4o-mini"``,
            ``"openai:<model>@<base_url>"``) for the planner and the joiner.
        tools: The tools the planner may call.
        joiner_model: A different model for the joiner, if wanted.
        max_replans: How many times the joiner may ask for a new plan.
        max_tasks: At most this many tasks per plan.
        max_tokens: At most this many tokens (prompt and completion) per run.
        time_limit: At most this many seconds per run.
        max_concurrency: How many tool calls may run at once.
        approve: Asked before each call of a destructive tool; without it, such
            calls are refused (the joiner sees the refusal).
        executor: Where tool calls run; a `LocalExecutor` by default.
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
        tools: ToolRegistry | Iterable[Tool] = (),
        *,
        joiner_model: Model | str | None = None,
        max_replans: int = 2,
        max_tasks: int = 64,
        max_tokens: int | None = None,
        time_limit: float | None = None,
        max_concurrency: int | None = None,
        approve: Approver | None = None,
        executor: Executor | None = None,
        skip_join: bool = False,
        examples: str | None = None,
        ask_user: AskUser | None = None,
        retriever: Retriever | None = None,
        top_k: int = 8,
        retrieve_above: int = 30,
    ) -> None:
        if max_replans < 0 or max_tasks < 1:
            raise UserError("max_replans must be >= 0 and max_tasks >= 1")
        self.model = resolve_model(model)
        self.tools = as_registry(tools)
        if ask_user is not None:
            self.tools = ToolRegistry([*self.tools, ask_user_tool(ask_user)])
        if not len(self.tools):
            raise UserError("an Agent needs at least one tool")
        self.planner = Planner(self.model, examples=examples)
        self.joiner = Joiner(resolve_model(joiner_model) if joiner_model else self.model)
        self.joiner.tools = list(self.tools)
        self.max_replans = max_replans
        self.max_tasks = max_tasks
        self.max_tokens = max_tokens
        self.time_limit = time_limit
        self.max_concurrency = max_concurrency
        self.executor: Executor = executor or LocalExecutor(approve=approve)
        self.skip_join = skip_join
        self._retriever = retriever
        self.top_k = top_k
        self.retrieve_above = retrieve_above

    async def run(self, request: str) -> RunResult:
        """Answer `request`.

        Returns:
            The answer with every plan, task, model call and timing.

        Raises:
            BudgetExceeded: A limit was reached; `.result` keeps what finished.
            PlanError: The joiner's reply was unreadable, or a replan repeated the
                previous plan; `.result` keeps what finished.
            ModelError: The model endpoint failed; `.result` keeps what finished.
        """
        return await _Run(self, request, None).run()

    def run_sync(self, request: str) -> RunResult:
        """`run` for code without an event loop."""
        return asyncio.run(self.run(request))

    @asynccontextmanager
    async def stream(self, request: str) -> AsyncIterator[RunEvents]:
        """Run `request` and iterate its events as they happen, in causal order.

        The last event is `RunFinished`; if the run ends by an error, iterating raises
        it after that event. Leaving the block early cancels the run.

        Example:
            ```python
            async with agent.stream("...") as events:
                async for event in events:
                    ...
            ```
        """
        queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()
        run = _Run(self, request, queue.put_nowait)

        async def produce() -> None:
            try:
                await run.run()
            except ToolweaveError as exc:
                queue.put_nowait(exc)
            finally:
                queue.put_nowait(None)

        try:
            async with asyncio.TaskGroup() as group:
                producer = group.create_task(produce())
                try:
                    yield RunEvents(queue, run.result)
                finally:
                    producer.cancel()
        except BaseExceptionGroup as errors:
            # the producer never raises (errors travel through the queue), so the
            # group holds the one error of the consumer's block: surface it as raised
            if len(errors.exceptions) == 1:
                raise errors.exceptions[0] from None
            raise

    async def warm_up(self) -> None:
        """Send the planner's and the joiner's stable prompt prefixes once.

        Endpoints with prompt caching (the local model, vLLM, llama.cpp server) then
        skip most of the prompt on the first real request. Costs one short call each.
        """
        settings = ModelSettings(max_tokens=1)
        for model, messages in (
            (
                self.planner.model,
                planner_messages("", list(self.tools), examples=self.planner.examples),
            ),
            (self.joiner.model, joiner_messages("", [])),
        ):
            async with model.stream(messages, settings) as response:
                async for _ in response:
                    pass

    @property
    def retriever(self) -> Retriever | None:
        """The retriever in use, built on first use for a large registry."""
        if self._retriever is None and len(self.tools) > self.retrieve_above:
            self._retriever = Retriever(self.tools)
        return self._retriever

    def offered_tools(self, query: str) -> tuple[list[Tool], list[ScoredTool]]:
        """The tools the planner sees for `query`: all, or the retriever's top k."""
        retriever = self.retriever
        if retriever is None:
            return list(self.tools), []
        hits = retriever.search(query, self.top_k)
        return [hit.tool for hit in hits], hits

    def close(self) -> None:
        """Release the default executor's worker threads."""
        if isinstance(self.executor, LocalExecutor):
            self.executor.close()


class RunEvents:
    """The events of a run in flight, as `Agent.stream` hands them out.

    Attributes:
        result: The run's result, filled in as the run goes; final once the
            ``async with`` block has exited, however it exited (cancelled included).
    """

    def __init__(
        self, queue: asyncio.Queue[Event | BaseException | None], result: RunResult
    ) -> None:
        self._queue = queue
        self.result = result

    def __aiter__(self) -> RunEvents:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # stay exhausted
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item


@dataclass(slots=True)
class _PlanGuard:
    over_budget: bool = False
    repeated: bool = False


class _Run:
    """One run of an agent: its state, its event log, its loop."""

    def __init__(self, agent: Agent, request: str, sink: EventSink | None) -> None:
        self.agent = agent
        self.sink = sink
        self.result = RunResult(run_id=uuid.uuid4().hex[:12], request=request)

    def emit(self, event: Event) -> None:
        tasks = self.result.tasks
        if isinstance(event, TaskPlanned):
            tasks[event.task.id] = TaskResult(event.task)
        elif isinstance(event, TaskStarted):
            record = tasks[event.task.id]
            record.state, record.started_at, record.args = TaskState.RUNNING, event.at, event.args
        elif isinstance(event, TaskSucceeded | TaskFailed | TaskSkipped):
            record = tasks[event.task.id]
            record.finished_at = event.at
            if isinstance(event, TaskSucceeded):
                record.state, record.value = TaskState.SUCCEEDED, event.value
            elif isinstance(event, TaskFailed):
                record.state, record.error = TaskState.FAILED, event.error
            else:
                record.state, record.reason = TaskState.SKIPPED, event.reason
        if self.sink is not None:
            self.sink(event)

    async def run(self) -> RunResult:
        agent, result = self.agent, self.result
        result.started_at = time.perf_counter()
        self.emit(
            RunStarted(
                run_id=result.run_id,
                request=result.request,
                model=agent.model.name,
                tools=tuple(agent.tools.names),
            )
        )
        try:
            async with asyncio.timeout(agent.time_limit):
                await self._loop()
        except TimeoutError as exc:
            self._end(
                "budget_exceeded",
                BudgetExceeded(f"the run's time limit of {agent.time_limit:g}s was reached"),
                exc,
            )
        except BudgetExceeded as exc:
            self._end("budget_exceeded", exc)
        except (PlanError, ModelError) as exc:
            self._end("failed", exc)
        except asyncio.CancelledError:
            self._close(status="cancelled", error="the run was cancelled")
            raise
        self._close(status="finished", error=None)
        return result

    def _end(
        self, status: RunStatus, error: ToolweaveError, cause: BaseException | None = None
    ) -> None:
        self._close(status=status, error=str(error))
        error.result = self.result
        if cause is not None:
            raise error from cause
        raise error

    def _close(self, *, status: RunStatus, error: str | None) -> None:
        result = self.result
        result.status, result.error = status, error
        result.finished_at = time.perf_counter()
        for record in result.tasks.values():  # calls cut short by the end of the run
            if not record.state.done:
                record.state, record.reason = TaskState.SKIPPED, f"not finished: {error}"
                record.finished_at = result.finished_at
        self.emit(RunFinished(run_id=result.run_id, result=result))

    async def _loop(self) -> None:
        agent, result = self.agent, self.result
        reason: str | None = None
        previous: PlanShape | None = None
        for index in range(agent.max_replans + 1):
            plan = PlanRecord(index, reason=reason)
            result.plans.append(plan)
            if index:
                assert reason is not None
                self.emit(Replanned(run_id=result.run_id, index=index, reason=reason))
            query = result.request if reason is None else f"{result.request} {reason}"
            tools, hits = agent.offered_tools(query)
            if hits:
                self.emit(ToolsRetrieved(run_id=result.run_id, query=query, hits=tuple(hits)))
            draft = agent.planner.plan(
                result.request,
                tools,
                history=list(result.tasks.values()),
                rejected=result.plans[-2].rejected if index else (),
                replan_reason=reason,
                known_ids=result.tasks.keys(),
            )
            guard = _PlanGuard()
            outcome = await execute(
                self._guarded(plan, draft, previous, guard),
                agent.tools,
                executor=agent.executor,
                max_concurrency=agent.max_concurrency,
                on_event=self.emit,
                values={
                    tid: r.value
                    for tid, r in result.tasks.items()
                    if r.state is TaskState.SUCCEEDED
                },
                run_id=result.run_id,
            )
            self._check_tokens()
            if isinstance(outcome.stream_error, ModelError) and not draft.tasks:
                raise outcome.stream_error
            if outcome.stream_error is not None:
                plan.rejected.append(PlanError(f"the plan was cut short: {outcome.stream_error}"))
            if guard.repeated:
                raise PlanError(
                    "the new plan repeats the previous one; giving up instead of looping"
                )
            if guard.over_budget:
                raise BudgetExceeded(f"the plan has more than {agent.max_tasks} tasks")
            if agent.skip_join and outcome.ok and draft.tasks:
                result.answer = render_text(result.tasks[draft.tasks[-1].id].value)
                return
            reply = await agent.joiner.decide(
                result.request,
                list(result.tasks.values()),
                plan.rejected,
                must_finish=index == agent.max_replans,
            )
            result.calls.append(
                ModelCall(
                    "joiner", reply.usage, reply.started_at, reply.finished_at, text=reply.text
                )
            )
            result.thought = reply.decision.thought
            self.emit(
                JoinDecided(
                    run_id=result.run_id,
                    decision=reply.decision,
                    usage=reply.usage,
                    duration=reply.finished_at - reply.started_at,
                )
            )
            self._check_tokens()
            if isinstance(reply.decision, Finish):
                result.answer = reply.decision.answer
                return
            reason = reply.decision.reason
            previous = PlanShape.of(draft.tasks)
        raise BudgetExceeded(
            f"the joiner asked for another plan after {agent.max_replans} replan(s): {reason}"
        )

    def _record_plan(self, plan: PlanRecord, draft: PlanDraft) -> None:
        result = self.result
        plan.text = draft.text
        plan.task_ids = [t.id for t in draft.tasks]
        plan.rejected = list(draft.rejected)
        finished = draft.finished_at or time.perf_counter()
        result.calls.append(
            ModelCall(
                "planner", draft.usage, draft.started_at, finished, draft.first_token_at, draft.text
            )
        )
        self.emit(
            PlanFinished(
                run_id=result.run_id,
                index=plan.index,
                text=plan.text,
                task_ids=tuple(plan.task_ids),
                rejected=len(plan.rejected),
                usage=draft.usage,
                duration=finished - draft.started_at,
            )
        )

    def _check_tokens(self) -> None:
        limit = self.agent.max_tokens
        if limit is not None and self.result.usage.total_tokens > limit:
            raise BudgetExceeded(
                f"the run used {self.result.usage.total_tokens} tokens, over its limit of {limit}"
            )

    async def _guarded(
        self, plan: PlanRecord, draft: PlanDraft, previous: PlanShape | None, guard: _PlanGuard
    ) -> AsyncIterator[PlanItem]:
        """The plan's items, with two checks on the way to the fetcher.

        A task beyond `max_tasks` ends the plan. Tasks that repeat the previous plan
        call for call are held back: if the whole plan turns out a repeat, none of it
        runs; at the first difference, the held tasks go out. When the model's stream
        ends, the plan is recorded (and `PlanFinished` emitted) while its tasks run.
        """
        held: list[PlanTask] = []
        shape = PlanShape()
        matching = previous is not None and len(previous) > 0
        count = 0
        try:
            async for item in draft:
                if isinstance(item, PlanTask):
                    count += 1
                    if count > self.agent.max_tasks:
                        guard.over_budget = True
                        break
                    shape.add(item)
                if matching:
                    assert previous is not None
                    if isinstance(item, PlanTask) and shape.matches_prefix(previous):
                        held.append(item)
                        continue
                    matching = False
                    for task in held:
                        yield task
                    held.clear()
                yield item
        finally:
            await draft.aclose()
            self._record_plan(plan, draft)
        if matching and held and len(held) == len(previous or ()):
            guard.repeated = True
            return
        for task in held:
            yield task
