"""The task fetching unit: a sans-IO scheduler and the async driver that runs plans.

Also the memo of identical calls, the coercion of a ref's value to its parameter, and
`TaskResult`'s JSON codec. Layer: imports `events`, `executor`, `tools`, `plan`,
`models`, `storage`, `redaction` and `errors`; nothing above.
"""

from toolweave.fetcher._codec import task_from_dict, task_to_dict
from toolweave.fetcher._execute import PlanOutcome, execute
from toolweave.fetcher._memo import CallMemo
from toolweave.fetcher._ref_coercion import fit_refs
from toolweave.fetcher._scheduler import Scheduler, TaskResult, TaskState

__all__ = [
    "CallMemo",
    "PlanOutcome",
    "Scheduler",
    "TaskResult",
    "TaskState",
    "execute",
    "fit_refs",
    "task_from_dict",
    "task_to_dict",
]
