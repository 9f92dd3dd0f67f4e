"""The task fetching unit: a sans-IO scheduler and the async driver that runs plans."""

from toolweave.fetcher._execute import PlanOutcome, execute
from toolweave.fetcher._memo import CallMemo
from toolweave.fetcher._scheduler import Scheduler, TaskResult, TaskState

__all__ = ["CallMemo", "PlanOutcome", "Scheduler", "TaskResult", "TaskState", "execute"]
