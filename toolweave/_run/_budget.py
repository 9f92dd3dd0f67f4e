"""A run's budgets: tokens and money, checked after each model call and each plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from toolweave.cost import check_cost
from toolweave.errors import BudgetExceeded

if TYPE_CHECKING:
    from toolweave._run._config import Limits
    from toolweave.cost import PriceTable
    from toolweave.result import RunResult

__all__ = ["Budget"]


class Budget:
    """What one run may still spend of its `Limits` (the time limit is a scope of its own).

    Args:
        limits: The run's limits.
        result: The run, whose calls so far count.
        prices: To price its calls against ``max_cost``.
        names: Gives the model name per role (read when the calls are priced).
    """

    def __init__(
        self,
        limits: Limits,
        result: RunResult,
        prices: PriceTable,
        names: Callable[[], Mapping[str, str]],
    ) -> None:
        self.limits = limits
        self._result = result
        self._prices = prices
        self._names = names

    def tokens_left(self) -> int | None:
        """What is left of the token budget, to cap the next model call's reply.

        A reply cannot then overshoot the budget; its prompt still can, once.

        Raises:
            BudgetExceeded: Nothing is left.
        """
        limit = self.limits.max_tokens
        if limit is None:
            return None
        used = self._result.usage.total_tokens
        if used >= limit:
            raise BudgetExceeded(f"the run used {used} tokens, its whole budget of {limit}")
        return limit - used

    def check(self) -> None:
        """Raise if the run has used more tokens or money than it may.

        Raises:
            BudgetExceeded: Over ``max_tokens`` or ``max_cost``.
        """
        limit, used = self.limits.max_tokens, self._result.usage.total_tokens
        if limit is not None and used > limit:
            raise BudgetExceeded(f"the run used {used} tokens, over its limit of {limit}")
        if self.limits.max_cost is not None:
            check_cost(self._result, self.limits.max_cost, self._prices, self._names())
