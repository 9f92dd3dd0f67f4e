"""One run of an agent: the plan-execute-join loop, its state and its event log.

The run's record (`RunResult`) is rebuilt from its own events, so that however the
run ends (an answer, a budget, an error, a cancellation) it keeps what finished.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from toolweave._approval import CALL_ID, DECISIONS, hold
from toolweave._output import OutputSpec, answer_text, repair_answer
from toolweave._replan import (
    REPEATED_PLAN,
    PlanGuard,
    converges,
    conversation,
    earlier_plans,
    guarded,
    nothing_new,
    tools_for_reason,
    unavailable,
)
from toolweave._result import ModelCall, PlanRecord, RunResult, RunStatus
from toolweave._resume import bind, resumable_tasks, resumed, take_up
from toolweave.cost import check_cost, price_calls
from toolweave.errors import (
    ApprovalPending,
    BudgetExceeded,
    ModelError,
    PlanError,
    ToolweaveError,
    UserError,
)
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
from toolweave.executor._local import RUN_APPROVER
from toolweave.fetcher import CallMemo, PlanOutcome, TaskResult, TaskState, execute
from toolweave.plan import PlanItem, PlanTask, render_text
from toolweave.planner import Finish, Joiner, JoinReply, PlanDraft, render_value
from toolweave.planner._shape import PlanShape
from toolweave.session import Session, TurnContext

if TYPE_CHECKING:
    from toolweave._resume import Bound
    from toolweave.agent import Agent
    from toolweave.tools import Tool

__all__ = ["Run"]


class Run:
    """One run of an agent: its state, its event log, its loop."""

    def __init__(
        self,
        agent: Agent,
        request: str,
        sink: EventSink | None,
        *,
        output: OutputSpec[object] | None = None,
        session: Session | None = None,
        resume: tuple[RunResult, Mapping[int, bool]] | None = None,
        trust_unsigned: bool = False,
    ) -> None:
        if not isinstance(request, str) or not request.strip():
            raise UserError(f"a request must be a non-empty string, not {request!r}")
        self.agent = agent
        self.sink = sink
        self.output = output
        self.session = session
        self.context = TurnContext()  # a conversation's, read when the run starts
        self.result = RunResult(run_id=uuid.uuid4().hex[:12], request=request)
        self.memo = CallMemo()  # identical safe calls run once per run, across replans
        self.tools: list[Tool] = []  # offered to the planner; kept across replans
        self._resume: Mapping[int, bool] | None = None
        self._paused: RunResult | None = None
        if resume is not None:
            self._paused, self._resume = resume
            self.result = resumed(self._paused, trust_unsigned=trust_unsigned)
        self.spans = agent.telemetry.recorder(agent) if agent.telemetry else None

    def emit(self, event: Event) -> None:
        tasks = self.result.tasks
        if isinstance(event, TaskFailed) and isinstance(event.error, ApprovalPending):
            event = hold(self.result, event)  # not failed: it waits, and the run will pause
        elif isinstance(event, TaskPlanned):
            tasks[event.task.id] = TaskResult(event.task)
        elif isinstance(event, TaskStarted):
            record = tasks[event.task.id]
            record.state, record.started_at, record.args = TaskState.RUNNING, event.at, event.args
            CALL_ID.set(event.task.id)  # emitted from the call's own asyncio task
        elif isinstance(event, TaskSucceeded | TaskFailed | TaskSkipped):
            record = tasks[event.task.id]
            record.finished_at = event.at
            if isinstance(event, TaskSucceeded):
                record.state, record.value = TaskState.SUCCEEDED, event.value
                record.memo_of = event.memo_of
            elif isinstance(event, TaskFailed):
                record.state, record.error = TaskState.FAILED, event.error
                record.memo_of = event.memo_of
            else:
                record.state, record.reason = TaskState.SKIPPED, event.reason
        if self.spans is not None:
            self.spans.handle(event)
        if self.sink is not None:
            self.sink(event)

    async def run(self) -> RunResult:
        """Run (or resume) to the end; in a conversation, after the runs before it."""
        approver = RUN_APPROVER.set(self.agent.approval)  # its calls, in their own tasks
        try:
            if self.session is None:
                return await self._run()
            async with self.session._taking_turns():  # one run of a conversation at a time
                self.context = await asyncio.to_thread(self.session.context)  # as stored now
                return await self._run()
        finally:
            RUN_APPROVER.reset(approver)

    async def _run(self) -> RunResult:
        agent, result = self.agent, self.result
        decisions: Mapping[int, Bound] = {}
        if self._resume is None:
            result.started_at = time.perf_counter()
        else:  # refused before anything runs: a refused resume is no run
            decisions = await self._claim(self._resume)
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
                if self._resume is None:
                    await self._loop()
                else:
                    await self._continue(decisions)
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
        except ToolweaveError as exc:
            self._end("failed", exc)
        except Exception as exc:  # a bug, here or in a plug-in: still a final state
            failure = ToolweaveError(f"the run failed: {type(exc).__name__}: {exc}")
            self._end("failed", failure, exc)
        if result.pending:
            result.pause_id = uuid.uuid4().hex
        elif self.session is not None:
            await self._keep_turn()
        self._close(status="paused" if result.pending else "finished", error=None)
        return result

    async def _keep_turn(self) -> None:
        """The answered run becomes its conversation's next turn (off the event loop).

        A store that cannot take it fails the run: the answer stays on the error's
        `.result`, and `RunFinished` fires as for every end.
        """
        assert self.session is not None
        price_calls(self.result, self.agent)  # the turn keeps what the run cost
        try:
            await asyncio.to_thread(self.session.add, self.result)
        except asyncio.CancelledError:
            self._close(status="cancelled", error="the run was cancelled")
            raise
        except ToolweaveError as exc:
            self._end("failed", exc)

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
        price_calls(result, self.agent)
        waiting = {call.id for call in result.pending}
        for record in result.tasks.values():  # calls cut short by the end of the run
            if not record.state.done and record.task.id not in waiting:
                record.state, record.reason = TaskState.SKIPPED, f"not finished: {error}"
                record.finished_at = result.finished_at
        self.emit(RunFinished(run_id=result.run_id, result=result))

    async def _loop(
        self, start: int = 0, reason: str | None = None, previous: PlanShape | None = None
    ) -> None:
        agent, result = self.agent, self.result
        context = self.context
        earlier: PlanDraft | None = None  # the previous plan's draft, if it ran here
        for index in range(start, agent.max_replans + 1):
            plan = PlanRecord(index, reason=reason)
            result.plans.append(plan)
            if index:
                assert reason is not None
                self.emit(Replanned(run_id=result.run_id, index=index, reason=reason))
            if index and self.tools:
                self.tools = self._more_tools(self.tools, reason or "")
            else:
                self.tools = await self._first_tools(
                    result.request if reason is None else f"{result.request} {reason}"
                )
            draft = agent.planner.plan(
                context.framed(result.request),
                self.tools,
                history=context.history,
                earlier=earlier_plans(result),
                known_ids=[*context.values, *result.tasks],
                unavailable=unavailable(result),
                max_tokens=self._tokens_left(),
            )
            guard = PlanGuard()
            record = functools.partial(self._record_plan, plan, draft)
            outcome = await self._execute(
                guarded(draft, previous, guard, agent.max_tasks, on_end=record)
            )
            if outcome.stream_error is not None:  # what arrived ran; no answer is made up
                raise _stream_failure(outcome.stream_error)
            if guard.over_budget:
                raise BudgetExceeded(f"the plan has more than {agent.max_tasks} tasks")
            if result.pending:
                return  # paused: everything that does not wait on an approval has run
            if guard.repeated:  # nothing ran: the answer comes from the earlier results
                last = result.plans[-2]  # the joiner continues its conversation, as before
                if await self._join(index, last, False, draft=earlier, must_finish=True) is None:
                    return
                raise PlanError(f"{REPEATED_PLAN}, and the joiner would not answer without it")
            reason = await self._join(
                index,
                plan,
                outcome.ok,
                convergent=converges(draft.tasks),
                draft=draft,
                must_finish=nothing_new(result, plan),
            )
            if reason is None:
                return
            previous, earlier = PlanShape.of(draft.tasks), draft
        raise BudgetExceeded(
            f"the joiner asked for another plan after {agent.max_replans} replan(s): {reason}"
        )

    async def _join(
        self,
        index: int,
        plan: PlanRecord,
        ok: bool,
        *,
        convergent: bool = False,
        draft: PlanDraft | None = None,
        must_finish: bool = False,
    ) -> str | None:
        """Answer from the plan's results: ``None`` when finished, else the replan reason.

        Decided in code: when every call of the run succeeded and the plan converges
        into its last task, small models' replans only repeat calls that
        already answered, so the joiner must answer (unless `replan_on_success`), as it
        must when told to (`must_finish`: a replan brought nothing new).
        The joiner may continue the `draft`'s conversation (a resumed run has none).
        """
        agent, result = self.agent, self.result
        all_ok = (
            ok
            and convergent
            and not agent.replan_on_success
            and all(r.state is TaskState.SUCCEEDED for r in result.tasks.values())
        )
        if agent.skip_join and ok and plan.task_ids:
            value = result.tasks[plan.task_ids[-1]].value
            result.answer = render_text(value)
            if self.output is not None:
                result.output = self.output.validate_value(value)
            return None
        reply = await agent.joiner.decide(
            self.context.framed(result.request),
            list(result.tasks.values()),
            plan.rejected,
            must_finish=must_finish or all_ok or index == agent.max_replans,
            offered=self.tools,
            max_tokens=self._tokens_left(),
            instructions=self.output.instructions if self.output is not None else None,
            conversation=conversation(draft),
        )
        self._record_join(reply)
        if isinstance(reply.decision, Finish):
            result.answer = reply.decision.answer
            if self.output is not None:
                result.output = await repair_answer(
                    self.output,
                    agent.joiner if isinstance(agent.joiner, Joiner) else None,
                    reply,
                    self._record_join,
                    max_tokens=self._tokens_left(),
                )
                result.answer = answer_text(result.output)
            return None
        if all_ok and plan.task_ids:  # it replanned anyway: the last result answers
            value = result.tasks[plan.task_ids[-1]].value
            result.answer = render_value(value)
            if self.output is not None:
                result.output = self.output.validate_value(value)
            return None
        return reply.decision.reason

    def _record_join(self, reply: JoinReply) -> None:
        result = self.result
        result.calls.append(
            ModelCall("joiner", reply.usage, reply.started_at, reply.finished_at, text=reply.text)
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

    async def _execute(self, items: AsyncIterator[PlanItem] | list[PlanTask]) -> PlanOutcome:
        """Run tasks; they may refer to the session's values and this run's."""
        values = dict(self.context.values)
        for tid, record in self.result.tasks.items():
            if record.state is TaskState.SUCCEEDED:
                values[tid] = record.value
        agent = self.agent
        outcome = await execute(
            items,
            agent.tools,
            executor=agent.executor,
            max_concurrency=agent.max_concurrency,
            on_event=self.emit,
            values=values,
            run_id=self.result.run_id,
            memo=self.memo,
        )
        self._check_tokens()
        return outcome

    async def _claim(self, approvals: Mapping[int, bool]) -> Mapping[int, Bound]:
        """Bind each decision to its call, then claim the pause (once, ever)."""
        assert self._paused is not None
        values = dict(self.context.values)
        values.update(
            (tid, r.value) for tid, r in self.result.tasks.items() if r.state is TaskState.SUCCEEDED
        )
        return await take_up(
            self._paused,
            self.result,
            bind(self.result, approvals, self.agent.tools, values),
            self.agent.resume_ledger,
        )

    async def _continue(self, decisions: Mapping[int, Bound]) -> None:
        """A resumed run: the waiting calls with their decisions, then on as usual."""
        result = self.result
        waiting = {call.id for call in result.pending}
        result.pending = []
        token = DECISIONS.set(decisions)
        try:
            outcome = await self._execute(resumable_tasks(result.tasks, waiting))
        finally:
            DECISIONS.reset(token)
        if result.pending:
            return  # a call further down waits for its own approval
        plan = result.plans[-1]
        ok = (
            outcome.ok
            and not plan.rejected
            and all(result.tasks[t].state is TaskState.SUCCEEDED for t in plan.task_ids)
        )
        tasks = [result.tasks[t].task for t in plan.task_ids]
        reason = await self._join(plan.index, plan, ok, convergent=converges(tasks))
        if reason is not None:
            shape = PlanShape.of([result.tasks[t].task for t in plan.task_ids])
            await self._loop(plan.index + 1, reason, shape)

    async def _first_tools(self, query: str) -> list[Tool]:
        """The tools of the first plan: all, or the retriever's for the request."""
        agent, result = self.agent, self.result
        retrieving = time.perf_counter()
        tools, hits, split = await agent.offered_tools(query)
        if split is not None:
            now = time.perf_counter()
            result.calls.append(
                ModelCall(
                    "decomposer", split.usage, now - split.seconds, now, text="\n".join(split.parts)
                )
            )
        if hits:
            self.emit(
                ToolsRetrieved(
                    run_id=result.run_id,
                    query=query,
                    hits=tuple(hits),
                    duration=time.perf_counter() - retrieving,
                )
            )
        return tools

    def _more_tools(self, tools: list[Tool], reason: str) -> list[Tool]:
        """The tools of a replan: the same as before, plus any the reason asks for."""
        retriever = self.agent.retriever
        if retriever is None:
            return tools
        retrieving = time.perf_counter()
        added, hits = tools_for_reason(tools, reason, self.agent.tools, retriever)
        if not added:
            return tools
        self.emit(
            ToolsRetrieved(
                run_id=self.result.run_id,
                query=reason,
                hits=tuple(hits),
                duration=time.perf_counter() - retrieving,
            )
        )
        return [*tools, *added]

    def _record_plan(self, plan: PlanRecord, draft: PlanDraft, repeated: bool) -> None:
        """Record the plan; one that repeats the previous plan is cut whole (none ran)."""
        result = self.result
        plan.text = draft.text
        plan.task_ids = [] if repeated else [t.id for t in draft.tasks]
        plan.rejected, plan.cut = list(draft.rejected), draft.cut
        if repeated:
            plan.cut = PlanError(REPEATED_PLAN)
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
                cut=None if plan.cut is None else plan.cut.reason,
                usage=draft.usage,
                duration=finished - draft.started_at,
            )
        )

    def _tokens_left(self) -> int | None:
        """What is left of the token budget, to cap the next model call's reply.

        A reply cannot then overshoot the budget; its prompt still can, once.
        """
        limit = self.agent.max_tokens
        if limit is None:
            return None
        used = self.result.usage.total_tokens
        if used >= limit:
            raise BudgetExceeded(f"the run used {used} tokens, its whole budget of {limit}")
        return limit - used

    def _check_tokens(self) -> None:
        limit = self.agent.max_tokens
        if limit is not None and self.result.usage.total_tokens > limit:
            raise BudgetExceeded(
                f"the run used {self.result.usage.total_tokens} tokens, over its limit of {limit}"
            )
        check_cost(self.result, self.agent)


def _stream_failure(error: Exception) -> ToolweaveError:
    """The plan's stream broke: that is the run's end, never a plan to answer from.

    A model or transport failure is a `ModelError`; anything else (a bug in a planner
    given to the agent) fails the run as such. The lines that arrived before it ran.
    """
    if isinstance(error, ToolweaveError):
        return error
    if isinstance(error, OSError | TimeoutError | EOFError):
        failure: ToolweaveError = ModelError(
            f"the plan stream failed: {type(error).__name__}: {error}"
        )
    else:
        failure = ToolweaveError(f"the planner failed: {type(error).__name__}: {error}")
    failure.__cause__ = error
    return failure
