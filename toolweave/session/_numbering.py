"""Task ids in a conversation: each `$N` names one value, whoever wrote the turns.

Task ids go on across a conversation's turns, so that a later plan may name an earlier
value as ``$N``. Two writers (two processes, two web workers, two runs at once) may
each plan a turn from the same earlier turns and number their tasks alike; a database
written before this was kept may already hold such turns. `Numbering` walks the
turns in order and gives a turn whose ids meet earlier ones fresh ids after the
highest so far; `renumbered` rewrites the turn's tasks to them, with the refs between
its own tasks (in their planned arguments, hence in their call text) and their deps.
Refs to earlier turns' values keep their ids. The walk is the same when a turn is
stored and whenever the turns are read, so stored ids and read ids agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from toolweave.fetcher import TaskResult
from toolweave.plan import Arg, PlanTask, Ref, Template

__all__ = ["Numbering", "renumbered"]


class Numbering:
    """The ids a conversation's turns hold so far, turn by turn."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.top = 0

    def place(self, ids: Iterable[int]) -> dict[int, int]:
        """The next turn's ids as they stand in the conversation (old id -> id).

        Ids that meet none seen so far stay; otherwise all of the turn's ids move, in
        order, to just after the highest id so far (their order is their data flow).
        """
        own = sorted(set(ids))
        if self.seen.isdisjoint(own):
            mapping = {i: i for i in own}
        else:
            mapping = {old: self.top + n for n, old in enumerate(own, start=1)}
        self.seen.update(mapping.values())
        self.top = max([self.top, *mapping.values()])
        return mapping


def renumbered(results: list[TaskResult], mapping: Mapping[int, int]) -> list[TaskResult]:
    """`results` with their own ids (the keys of `mapping`) moved; the rest untouched."""
    if all(old == new for old, new in mapping.items()):
        return results
    out = []
    for record in results:
        task = record.task
        moved = PlanTask(
            mapping.get(task.id, task.id),
            task.tool,
            {name: _moved(value, mapping) for name, value in task.args.items()},
            frozenset(mapping.get(dep, dep) for dep in task.deps),
            task.thought,
        )
        memo = record.memo_of
        out.append(
            dataclasses.replace(
                record, task=moved, memo_of=None if memo is None else mapping.get(memo, memo)
            )
        )
    return out


def _moved(value: Arg, mapping: Mapping[int, int]) -> Arg:
    if isinstance(value, Ref):
        return _ref(value, mapping)
    if isinstance(value, Template):
        return Template(tuple(_ref(p, mapping) if isinstance(p, Ref) else p for p in value.parts))
    if isinstance(value, list):
        return [_moved(item, mapping) for item in value]
    if isinstance(value, dict):
        return {key: _moved(item, mapping) for key, item in value.items()}
    return value


def _ref(ref: Ref, mapping: Mapping[int, int]) -> Ref:
    return Ref(mapping.get(ref.task_id, ref.task_id), ref.path)
