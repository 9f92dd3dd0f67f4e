"""The cost ledger: what each model call cost, from a table of prices per model.

Prices are per million tokens, in three parts: prompt tokens the endpoint evaluated,
prompt tokens it read from its prefix cache (cheaper where the vendor says so), and
completion tokens. A small built-in table covers common hosted models (USD, from the
vendors' public price pages in 2025; check them before relying on a figure) and
every ``local:`` model costs 0. Your own table goes first:

```python
agent = Agent("openai:my-model@http://...", tools, prices={"my-model": Price(0.2, 0.05, 0.8)})
result.cost                      # the run, in the table's currency
[c.cost for c in result.calls]   # each call; None where the price is unknown
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolweave.errors import BudgetExceeded, UserError
from toolweave.models import Usage

if TYPE_CHECKING:
    from toolweave.result import RunResult

__all__ = ["FREE", "PRICES", "Price", "PriceTable", "cached_tokens", "check_cost", "price_calls"]

_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price per million tokens.

    Attributes:
        input: Per million prompt tokens the endpoint evaluated.
        cached_input: Per million prompt tokens read from the endpoint's prefix cache;
            `None`: the same as `input`.
        output: Per million completion tokens.
    """

    input: float
    cached_input: float | None = None
    output: float = 0.0

    def __post_init__(self) -> None:
        if min(self.input, self.output, self.cached_input or 0.0) < 0:
            raise UserError(f"a price cannot be negative: {self}")

    def cost(self, usage: Usage) -> float:
        """What `usage` costs at this price."""
        cached = min(cached_tokens(usage), usage.prompt_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return (
            (usage.prompt_tokens - cached) * self.input
            + cached * cached_rate
            + usage.completion_tokens * self.output
        ) / _MILLION


FREE = Price(0.0, 0.0, 0.0)
"""The local model's price: it runs on your own machine."""

PRICES: Mapping[str, Price] = {
    # OpenAI
    "gpt-4o": Price(2.50, 1.25, 10.00),
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
    "gpt-4.1": Price(2.00, 0.50, 8.00),
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.025, 0.40),
    "gpt-5": Price(1.25, 0.125, 10.00),
    "gpt-5-mini": Price(0.25, 0.025, 2.00),
    "gpt-5-nano": Price(0.05, 0.005, 0.40),
    "o3": Price(2.00, 0.50, 8.00),
    "o3-mini": Price(1.10, 0.55, 4.40),
    "o4-mini": Price(1.10, 0.275, 4.40),
    # Anthropic (through OpenAI-compatible gateways)
    "claude-3-5-haiku": Price(0.80, 0.08, 4.00),
    "claude-sonnet-4": Price(3.00, 0.30, 15.00),
    "claude-opus-4": Price(15.00, 1.50, 75.00),
    # Google
    "gemini-2.5-flash": Price(0.30, 0.075, 2.50),
    "gemini-2.5-pro": Price(1.25, 0.31, 10.00),
    # DeepSeek
    "deepseek-chat": Price(0.27, 0.07, 1.10),
}
"""Built-in prices (USD per million tokens), by model name without its ``openai:`` kind."""


def cached_tokens(usage: Usage) -> int:
    """Prompt tokens read from a prefix cache, where the usage records them (else 0)."""
    for name in ("cached_tokens", "cached_prompt_tokens"):
        value = getattr(usage, name, None)
        if isinstance(value, int):
            return value
    return 0


class PriceTable:
    """Prices by model name: yours first, then the built-in table.

    A name matches its entry exactly, or by its longest entry that is a prefix of it
    (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``). ``local:`` models cost 0.

    Args:
        prices: Your prices, by model name (with or without the ``openai:`` kind).
        builtin: Fall back on `PRICES`.
    """

    def __init__(self, prices: Mapping[str, Price] | None = None, *, builtin: bool = True) -> None:
        self.prices = {
            **(PRICES if builtin else {}),
            **{_bare(k): v for k, v in (prices or {}).items()},
        }

    def lookup(self, model: str) -> Price | None:
        """The price of `model` (a model's `name`), or `None` when unknown."""
        if model == "local" or model.startswith("local:"):
            return FREE
        name = _bare(model)
        if name in self.prices:
            return self.prices[name]
        matches = [key for key in self.prices if name.startswith(key)]
        return self.prices[max(matches, key=len)] if matches else None

    def require(self, models: Sequence[str], *, for_what: str) -> None:
        """Raise unless every one of `models` has a price (an unpriced call counts as free).

        Raises:
            UserError: Naming the models without a price.
        """
        unpriced = [model for model in models if self.lookup(model) is None]
        if unpriced:
            raise UserError(
                f"{for_what} needs a price for {', '.join(unpriced)}: pass "
                "prices={name: Price(input=..., output=...)}"
            )

    def cost(self, model: str, usage: Usage) -> float | None:
        """What `usage` of `model` cost, or `None` when its price is unknown."""
        price = self.lookup(model)
        return None if price is None else price.cost(usage)


def _bare(model: str) -> str:
    kind, sep, rest = model.partition(":")
    name = rest if sep and kind == "openai" else model
    return name.partition("@")[0]


def check_cost(
    result: RunResult, limit: float | None, prices: PriceTable, models: Mapping[str, str]
) -> None:
    """Price the run's calls so far; raise if they cost more than `limit`.

    Args:
        result: The run.
        limit: The most it may cost, if anything.
        prices: The prices to price its calls with.
        models: The model name per role (``planner``, ``joiner``, ``decomposer``).

    Raises:
        BudgetExceeded: Over `limit`.
    """
    if limit is None:
        return
    price_calls(result, prices, models)
    if result.cost > limit:
        raise BudgetExceeded(f"the run cost {result.cost:.6f}, over its limit of {limit:g}")


def price_calls(result: RunResult, prices: PriceTable, models: Mapping[str, str]) -> None:
    """Name and price every model call of `result` that has not been priced yet.

    Args:
        result: The run.
        prices: The prices.
        models: The model name per role (``planner``, ``joiner``, ``decomposer``).
    """
    for call in result.calls:
        if call.model:
            continue
        call.model = models[call.role]
        call.cost = prices.cost(call.model, call.usage)
