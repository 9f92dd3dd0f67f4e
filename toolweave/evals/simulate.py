"""Simulated tools: any registry tool backed by deterministic, seeded behaviour.

A simulated call sleeps a latency drawn from a seeded log-normal distribution, may
fail (a `ConnectionError`) at a set rate, and returns the sample response that the
tool's spec carries (AutoTools' food, weather and game endpoints have one) or a value
made from its arguments, ``{"value": 4821, "simulated": true}``. The same seed, tool
and arguments give the same latency, outcome and value, whatever the order or
concurrency of the calls. The value does not repeat the call's arguments: every
strategy shows them beside the result already, and an echo doubled each call in the
model's prompt (and nested into any text argument that a result was passed to).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from toolweave.tools import Tool, ToolRegistry

__all__ = ["Simulation", "simulate"]


@dataclass(frozen=True, slots=True)
class Simulation:
    """How simulated tools behave.

    Attributes:
        seed: Everything random derives from it.
        latency: Median seconds per call (0 for none).
        spread: Log-normal sigma of the latency.
        failure_rate: Probability that a call fails with a ConnectionError.
    """

    seed: int = 0
    latency: float = 0.3
    spread: float = 0.5
    failure_rate: float = 0.0

    def rng(self, tool: str, args: Mapping[str, object]) -> random.Random:
        """The random source of one call, from the seed, the tool and the arguments."""
        key = json.dumps([self.seed, tool, args], sort_keys=True, default=str)
        return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))

    def delay(self, rng: random.Random) -> float:
        """A latency drawn from the log-normal distribution."""
        return self.latency * math.exp(rng.gauss(0.0, self.spread)) if self.latency else 0.0


def simulate(
    registry: ToolRegistry,
    simulation: Simulation | None = None,
    *,
    responders: Mapping[str, Callable[[dict[str, Any], random.Random], object]] | None = None,
) -> ToolRegistry:
    """The same tools, each backed by a simulated implementation.

    Args:
        registry: The tools (descriptions; their own implementations are not used).
        simulation: Seed, latency and failure rate.
        responders: Per tool name, a function of (arguments, random source) that
            makes the value, overriding the default.
    """
    simulation = simulation or Simulation()
    responders = responders or {}
    out = ToolRegistry()
    for tool in registry:
        out.add(
            Tool.from_schema(
                tool.name,
                tool.description,
                tool.parameters,
                _implementation(tool, simulation, responders.get(tool.name)),
                returns=tool.returns,
                read_only=True,
                metadata={**tool.metadata, "simulated": True},
            )
        )
    return out


def _implementation(
    tool: Tool,
    simulation: Simulation,
    responder: Callable[[dict[str, Any], random.Random], object] | None,
) -> Callable[..., Any]:
    sample = tool.metadata.get("sample_response")

    async def call(**args: Any) -> object:
        rng = simulation.rng(tool.name, args)
        delay = simulation.delay(rng)
        if delay:
            await asyncio.sleep(delay)
        if rng.random() < simulation.failure_rate:
            raise ConnectionError(f"simulated failure of {tool.name}")
        if responder is not None:
            return responder(args, rng)
        if sample is not None:
            return sample
        return {"value": rng.randrange(1000, 9999), "simulated": True}

    return call
