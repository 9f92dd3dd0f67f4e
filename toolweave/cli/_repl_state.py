"""What the REPL remembers between runs: its requests and its last run, read by slash commands.

Apart from the REPL (`toolweave.cli._repl`) so that the slash commands
(`toolweave.cli._slash`) can read it without importing the REPL that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolweave.cli._render import RunView
from toolweave.events import Event
from toolweave.result import RunResult

__all__ = ["ReplState"]


@dataclass
class ReplState:
    """What the REPL remembers between runs (the conversation itself is a `toolweave.Session`).

    Attributes:
        requests: The conversation's requests, in order (a resumed one's earlier ones first).
        last: The last run's result.
        last_view: The last run's live view, for ``/plan``.
        last_events: The last run's events, for ``/trace``.
        results: Every run's result, for the session's totals in ``/usage``.
    """

    requests: list[str] = field(default_factory=list)
    last: RunResult | None = None
    last_view: RunView | None = None
    last_events: list[Event] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)
