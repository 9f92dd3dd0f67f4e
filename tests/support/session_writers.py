"""A writer process for one conversation: the two-process tests and the state campaign.

Spawned processes import this module by name, so the tools and the worker live here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from toolweave import Agent, ToolRegistry, tool
from toolweave.models.testing import ScriptedModel

POPULATIONS = {"France": 68_000_000, "Spain": 48_000_000, "Italy": 59_000_000}


def write_turn(path: str, session_id: str, country: str, first_id: int, gate: Any) -> None:
    """Run one turn that looks `country` up as task `first_id`, in a conversation.

    The lookup waits at `gate` (a Barrier shared with the other writers, or None), so
    that every writer has taken its context before any of them stores its turn.
    """

    @tool(read_only=True)
    def population(country: str) -> int:
        """Population of a country."""
        if gate is not None:
            gate.wait(timeout=30)
        return POPULATIONS[country]

    plan = f'{first_id}. population(country="{country}")\njoin()\n<END_OF_PLAN>'
    model = ScriptedModel([plan, "Action: Finish(ok)"])
    chat = Agent(model, ToolRegistry([population])).session(session_id, store=path)
    result = asyncio.run(chat.run(f"{country}?"))
    if result.status != "finished":
        raise SystemExit(f"the run ended {result.status}: {result.error}")
