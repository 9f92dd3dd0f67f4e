"""One run: the plan-execute-join loop, given a `RunConfig` and its `Limits`.

The run's record (`RunResult`) is kept by a `Recorder` from the run's own events, so
that however the run ends (an answer, a budget, an error, a cancellation) it keeps what
finished.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from toolweave._run._approval import CALL_ID, DECISIONS
from toolweave._run._budget import Budget
from toolweave._run._ledger import ResumeLedger
from toolweave._run._offer import offered_first, offered_more
from toolweave._run._output import OutputSpec, answer_text, repair_answer
from toolweave._run._recorder import Recorder
from toolweave._run._replan import (
    REPEATED_PLAN,
    PlanGuard,
    converges,
    conversation,
    earlier_plans,
    guarded,
    nothing_new,
    stream_failure,
    unavailable,
)
from toolweave._run._resume import bind, resumable_tasks, resumed, take_up
from toolweave.cost import price_calls
from toolweave.errors import BudgetExceeded, ModelError, PlanError, ToolweaveError, UserError
from toolweave.events import Event, EventSink, Replanned, RunStarted, TaskStarted
from toolweave.executor._local import RUN_APPROVER
from toolweave.fetcher import CallMemo, PlanOutcome, TaskState, execute
from toolweave.plan import PlanItem, PlanTask, render_text
from toolweave.planner import Finish, Joiner, JoinReply, PlanDraft, render_value
from toolweave.planner._shape import PlanShape
from toolweave.result import PlanRecord, RunResult, RunStatus
from toolweave.session import Session, TurnContext

if TYPE_CHECKING:
    from toolweave._run._config import Limits, RunConfig
    from toolweave._run._resume import Bound
    from toolweave.tools import Tool

__all__ = ["Run"]


class Run:
    """One run: its state, its event log, its loop.

    Args:
        config: What the run uses (built once by its agent).
        request: The question or task.
        sink: Where its events go, as they happen.
        limits: Its limits; the config's by default.
        output: The type its answer must have, if any.
        session: The conversation it is a turn of, if any.
        resume: A paused run and the decisions for its pending calls.
        trust_unsigned: Resume a state read without a key.
    """

    def __init__(
        self,
        config: RunConfig,
        request: str,
        sink: EventSink | None,
        *,
        limits: Limits | None = None,
        output: OutputSpec[object] | None = None,
        session: Session | None = None,
        resume: tuple[RunResult, Mapping[int, bool]] | None = None,
        trust_unsigned: bool = False,
    ) -> None:
        if not isinstance(request, str) or not request.strip():
            raise UserError(f"a request must be a non-empty string, not {request!r}")
        self.config = config
        self.limits = config.check(limits) if limits is not None else config.limits
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
        self.recorder = Recorder(self.result)
        self.budget = Budget(self.limits, self.result, config.prices, config.models.names)
        self.spans = config.spans() if config.spans is not None else None

    def emit(self, event: Event) -> None:
        """Record `event`, then hand it to the spans and the sink."""
        event = self.recorder.record(event)
        if isinstance(event, TaskStarted):
            CALL_ID.set(event.task.id)  # emitted from the call's own asyncio task
        if self.spans is not None:
            self.spans.handle(event)
        if self.sink is not None:
            self.sink(event)

    async def run(self) -> RunResult:
        """Run (or resume) to the end; in a conversation, after the runs before it."""
        approver = RUN_APPROVER.set(self.config.approver)  # its calls, in their own tasks
        try:
            if self.session is None:
                return await self._run()
            async with self.session._taking_turns():  # one run of a conversation at a time
                self.context = await asyncio.to_thread(self.session.context)  # as stored now
                return await self._run()
        finally:
            RUN_APPROVER.reset(approver)

    async def _run(self) -> RunResult:
        config, result = self.config, self.result
        time_limit = self.limits.time_limit
        decisions: Mapping[int, Bound] = {}
        if self._resume is None:
            result.started_at = time.perf_counter()
        else:  # refused before anything runs: a refused resume is no run
            decisions = await self._claim(self._resume)
        self.emit(
            RunStarted(
                run_id=result.run_id,
                request=result.request,
                model=config.models.model.name,
                tools=tuple(config.tools.names),
            )
        )
        try:
            async with asyncio.timeout(time_limit):
                if self._resume is None:
                    await self._loop()
                else:
                    await self._continue(decisions)
        except TimeoutError as exc:
            self._end(
                "budget_exceeded",
                BudgetExceeded(f"the run's time limit of {time_limit:g}s was reached"),
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
        self._price()  # the turn keeps what the run cost
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
        self._price()
        self.emit(self.recorder.finished(status, error, time.perf_counter()))

    def _price(self) -> None:
        price_calls(self.result, self.config.prices, self.config.models.names())

    async def _loop(
        self, start: int = 0, reason: str | None = None, previous: PlanShape | None = None
    ) -> None:
        config, limits, result = self.config, self.limits, self.result
        context = self.context
        earlier: PlanDraft | None = None  # the previous plan's draft, if it ran here
        for index in range(start, limits.max_replans + 1):
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
            draft = config.planner.plan(
                context.framed(result.request),
                self.tools,
                history=context.history,
                earlier=earlier_plans(result),
                known_ids=[*context.values, *result.tasks],
                unavailable=unavailable(result),
                max_tokens=self.budget.tokens_left(),
            )
            guard = PlanGuard()
            record = functools.partial(self._record_plan, plan, draft)
            outcome = await self._execute(
                guarded(draft, previous, guard, limits.max_tasks, on_end=record)
            )
            if outcome.stream_error is not None:  # what arrived ran; no answer is made up
                raise stream_failure(outcome.stream_error)
            if guard.over_budget:
                raise BudgetExceeded(f"the plan has more than {limits.max_tasks} tasks")
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
            f"the joiner asked for another plan after {limits.max_replans} replan(s): {reason}"
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
        joiner, limits, result = self.config.joiner, self.limits, self.result
        all_ok = (
            ok
            and convergent
            and not limits.replan_on_success
            and all(r.state is TaskState.SUCCEEDED for r in result.tasks.values())
        )
        if limits.skip_join and ok and plan.task_ids:
            value = result.tasks[plan.task_ids[-1]].value
            result.answer = render_text(value)
            if self.output is not None:
                result.output = self.output.validate_value(value)
            return None
        reply = await joiner.decide(
            self.context.framed(result.request),
            list(result.tasks.values()),
            plan.rejected,
            must_finish=must_finish or all_ok or index == limits.max_replans,
            offered=self.tools,
            max_tokens=self.budget.tokens_left(),
            instructions=self.output.instructions if self.output is not None else None,
            conversation=conversation(draft),
        )
        self._record_join(reply)
        if isinstance(reply.decision, Finish):
            result.answer = reply.decision.answer
            if self.output is not None:
                result.output = await repair_answer(
                    self.output,
                    joiner if isinstance(joiner, Joiner) else None,
                    reply,
                    self._record_join,
                    max_tokens=self.budget.tokens_left(),
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
        self.emit(self.recorder.join_decided(reply))
        self.budget.check()

    async def _execute(self, items: AsyncIterator[PlanItem] | list[PlanTask]) -> PlanOutcome:
        """Run tasks; they may refer to the session's values and this run's."""
        values = dict(self.context.values)
        for tid, record in self.result.tasks.items():
            if record.state is TaskState.SUCCEEDED:
                values[tid] = record.value
        config = self.config
        outcome = await execute(
            items,
            config.tools,
            executor=config.executor,
            max_concurrency=self.limits.max_concurrency,
            on_event=self.emit,
            values=values,
            run_id=self.result.run_id,
            memo=self.memo,
        )
        self.budget.check()
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
            bind(self.result, approvals, self.config.tools, values),
            self._ledger(),
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

    def _ledger(self) -> ResumeLedger:
        if self.config.ledger is None:
            raise UserError("this agent keeps no resume ledger: it cannot resume a pause")
        return self.config.ledger()

    async def _first_tools(self, query: str) -> list[Tool]:
        """The tools of the first plan: all, or the retriever's for the request."""
        return await offered_first(self.config.offer, query, self.result, self.emit)

    def _more_tools(self, tools: list[Tool], reason: str) -> list[Tool]:
        """The tools of a replan: the same as before, plus any the reason asks for."""
        return offered_more(self.config.offer, tools, reason, self.result.run_id, self.emit)

    def _record_plan(self, plan: PlanRecord, draft: PlanDraft, repeated: bool) -> None:
        """Record the plan; one that repeats the previous plan is cut whole (none ran)."""
        self.emit(self.recorder.plan_finished(plan, draft, repeated))
