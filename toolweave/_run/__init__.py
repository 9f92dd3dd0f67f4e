"""One run of an agent: the plan-execute-join loop and what it keeps.

- `_config`: `Limits` (per run) and `RunConfig` (built once by the agent, `_assemble`);
- `_loop`: `Run`, the loop: plan while streaming, execute, join, replan;
- `_recorder`: the run's `RunResult`, built from its events (sans-IO);
- `_budget`: tokens and money; `_offer`: the tools each plan is offered;
- `_models`: the models by role, loaded, warmed up and released;
- `_replan`: what a replan sees and when it must stop; `_output`: typed answers;
- `_approval`, `_resume`, `_ledger`: approvals, pauses, and resuming each pause once;
- `_events`: the task that feeds `RunEvents` (`Agent.stream`).

Layer: above `session`, `cost`, `result`, `planner`, `fetcher`, `sources`, `events`,
`retrieval`, `executor`, `tools`, `models`, `plan`, `storage`, `redaction` and `errors`;
only `agent` (and the command line and evaluations above it) import it. It never
imports the agent: it is given values.
"""

from toolweave._run._approval import Approve, approval_gate
from toolweave._run._assemble import Parts, assemble
from toolweave._run._config import Configured, Limits, RunConfig
from toolweave._run._events import run_events
from toolweave._run._ledger import ResumeLedger
from toolweave._run._loop import Run
from toolweave._run._models import ROLES, RunModels
from toolweave._run._offer import RETRIEVE_ABOVE, ToolOffer
from toolweave._run._output import OutputSpec

__all__ = [
    "RETRIEVE_ABOVE",
    "ROLES",
    "Approve",
    "Configured",
    "Limits",
    "OutputSpec",
    "Parts",
    "ResumeLedger",
    "Run",
    "RunConfig",
    "RunModels",
    "ToolOffer",
    "approval_gate",
    "assemble",
    "run_events",
]
