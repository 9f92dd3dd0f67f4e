"""What a run is given: its `Limits` (per run, overridable) and its `RunConfig` (per agent).

Nothing in the run loop reads the `Agent`: the agent builds one `RunConfig` when it is
made, and each run gets it with the limits that hold for that run.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast, overload

from toolweave.errors import UserError

if TYPE_CHECKING:
    from toolweave._run._ledger import ResumeLedger
    from toolweave._run._models import RunModels
    from toolweave._run._offer import ToolOffer
    from toolweave.cost import PriceTable
    from toolweave.executor import Executor
    from toolweave.executor._local import Approver
    from toolweave.planner import JoinerProtocol, PlannerProtocol
    from toolweave.telemetry import SpanRecorder
    from toolweave.tools import ToolRegistry

__all__ = ["ConfigField", "Configured", "LimitField", "Limits", "RunConfig"]

T = TypeVar("T")


class _Keep(enum.Enum):
    KEEP = "keep"


_KEEP = _Keep.KEEP
"""`Limits.replace`'s default: keep the field as it is (``None`` lifts a limit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How far one run may go: replans, tasks, tokens, seconds, money, parallel calls.

    An `Agent`'s limits hold for its runs; `run`, `stream` and `resume` take other
    ones for a single run (``agent.limits.replace(time_limit=5)``), as httpx's
    `Timeout` or pydantic-ai's `UsageLimits` are given per request.

    Attributes:
        max_replans: How many times the joiner may ask for a new plan.
        max_tasks: At most this many tasks per plan.
        max_tokens: At most this many tokens (prompt and completion) per run.
        time_limit: At most this many seconds per run.
        max_cost: At most this much money per run (in the prices' currency).
        max_concurrency: How many tool calls may run at once.
        skip_join: When a plan succeeds entirely, answer with its last task's value
            instead of calling the joiner.
        replan_on_success: Let the joiner ask for a new plan even when every task of
            the run succeeded and no plan line was rejected.

    Raises:
        UserError: A limit that would stop every run (0 or less), or none.
    """

    max_replans: int = 2
    max_tasks: int = 64
    max_tokens: int | None = None
    time_limit: float | None = None
    max_cost: float | None = None
    max_concurrency: int | None = None
    skip_join: bool = False
    replan_on_success: bool = False

    def __post_init__(self) -> None:
        if self.max_replans < 0 or self.max_tasks < 1:
            raise UserError("max_replans must be >= 0 and max_tasks >= 1")
        for name in ("max_tokens", "time_limit", "max_cost", "max_concurrency"):
            value = getattr(self, name)
            if value is not None and not value > 0:  # 0 would stop every run (or none)
                raise UserError(f"{name} must be positive, not {value!r}")

    def replace(
        self,
        *,
        max_replans: int | _Keep = _KEEP,
        max_tasks: int | _Keep = _KEEP,
        max_tokens: int | _Keep | None = _KEEP,
        time_limit: float | _Keep | None = _KEEP,
        max_cost: float | _Keep | None = _KEEP,
        max_concurrency: int | _Keep | None = _KEEP,
        skip_join: bool | _Keep = _KEEP,
        replan_on_success: bool | _Keep = _KEEP,
    ) -> Limits:
        """These limits with the ones given changed (checked again; ``None`` lifts one)."""
        given: dict[str, Any] = {
            "max_replans": max_replans,
            "max_tasks": max_tasks,
            "max_tokens": max_tokens,
            "time_limit": time_limit,
            "max_cost": max_cost,
            "max_concurrency": max_concurrency,
            "skip_join": skip_join,
            "replan_on_success": replan_on_success,
        }
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not _KEEP})


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything a run uses, built once by its `Agent`.

    Attributes:
        planner: Writes the plans.
        joiner: Reads the results and decides.
        executor: Where tool calls run.
        tools: The registry the plans' calls are checked against and run from.
        offer: The tools each plan is offered (all, or the retriever's).
        limits: The agent's limits (a run may be given others).
        prices: What each model's tokens cost.
        models: The models by role, whose names are read when a run uses them (a
            local model is named after the file it loads).
        approver: Asked before each destructive call of this agent's runs, if any.
        spans: Makes the span recorder of one run (`None`: no tracing).
        ledger: Gives the ledger where resumes claim their pause (made on first use).
    """

    planner: PlannerProtocol
    joiner: JoinerProtocol
    executor: Executor
    tools: ToolRegistry
    offer: ToolOffer
    limits: Limits
    prices: PriceTable
    models: RunModels
    approver: Approver | None = None
    spans: Callable[[], SpanRecorder | None] | None = None
    ledger: Callable[[], ResumeLedger] | None = None

    def check(self, limits: Limits) -> Limits:
        """`limits`, if this config can keep them (a money limit needs every price).

        Raises:
            UserError: ``max_cost`` is set and a model has no known price.
        """
        if limits.max_cost is not None:
            names = [model.name for model in self.models.distinct()]
            self.prices.require(names, for_what="max_cost")
        return limits


class _Field(Generic[T]):
    """An attribute of an agent read from one of its values: `_of` names which."""

    _of = "config"

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: Configured, owner: type | None = None) -> T: ...
    def __get__(self, obj: Configured | None, owner: type | None = None) -> Self | T:
        if obj is None:
            return self
        return cast(T, getattr(getattr(obj, self._of), self._name))


class LimitField(_Field[T]):
    """An attribute of an agent that reads, and sets, one field of its `Limits`."""

    _of = "limits"

    def __set__(self, obj: Configured, value: T) -> None:
        changes: dict[str, Any] = {self._name: value}
        obj.limits = dataclasses.replace(obj.limits, **changes)


class ConfigField(_Field[T]):
    """A read-only attribute of an agent: a part of its `RunConfig`, fixed when it is made."""

    def __set__(self, obj: Configured, value: T) -> None:
        raise AttributeError(
            f"an agent's {self._name} is fixed when it is made: make another agent"
        )


class Configured:
    """What an agent exposes of its `RunConfig`: its limits (settable) and its parts.

    Assigning a limit (``agent.max_replans = 0``) changes the agent's `limits` for the
    runs to come; its parts (planner, joiner, executor, tools) are fixed when it is
    made, and assigning one is an error rather than a change that nothing would read.
    """

    config: RunConfig

    max_replans = LimitField[int]()
    max_tasks = LimitField[int]()
    max_tokens = LimitField["int | None"]()
    time_limit = LimitField["float | None"]()
    max_cost = LimitField["float | None"]()
    max_concurrency = LimitField["int | None"]()
    skip_join = LimitField[bool]()
    replan_on_success = LimitField[bool]()
    planner = ConfigField["PlannerProtocol"]()
    joiner = ConfigField["JoinerProtocol"]()
    executor = ConfigField["Executor"]()
    tools = ConfigField["ToolRegistry"]()
    prices = ConfigField["PriceTable"]()

    @property
    def limits(self) -> Limits:
        """The limits of the agent's runs (a run may be given others)."""
        return self.config.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self.config = dataclasses.replace(self.config, limits=self.config.check(limits))
