"""The streaming parser of the LLMCompiler plan text format.

```
Thought: the two populations are independent lookups.
1. population(country="France")
2. population(country="Germany")
3. math(expression="$1 + $2")
4. join()
<END_OF_PLAN>
```

`PlanParser` is a pure state machine: `feed(chunk)` takes any piece of the model's
output and returns the tasks (and the rejected lines, as `PlanError` values) of the
lines that piece completed. Any split of a text into chunks gives the same results as
the whole text. A call's arguments are read by `_values` (literals and refs only):
model output is never evaluated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from toolweave.errors import PlanError
from toolweave.plan._ir import Arg, PlanTask, format_call
from toolweave.plan._values import CLOSE, OPEN, argument_name, expression, read_value

if TYPE_CHECKING:
    from toolweave.plan._tool_like import ToolLike

__all__ = ["END_OF_PLAN", "PlanItem", "PlanParser", "parse_plan"]

END_OF_PLAN = "<END_OF_PLAN>"

PlanItem = PlanTask | PlanError
"""What the parser yields for a line: an accepted task, or the reason a line was not."""

_TASK_LINE = re.compile(r"^(?:[-*]\s*)?(\d+)\s*[.:)]\s*(.*)$")
_THOUGHT_LINE = re.compile(r"^Thought\s*:\s*(.*)$", re.IGNORECASE)
_JOIN_CALL = re.compile(r"^join\s*\(\s*\)$")
_MAX_LINE = 20_000
_MAX_ID_DIGITS = 9


class PlanParser:
    """Parse plan text incrementally into `PlanTask`s and `PlanError`s.

    Args:
        tools: The tools offered to the planner; a call to any other tool is rejected,
            and argument names are checked against each tool's parameters. `None`
            accepts any tool name (keyword arguments only).
        known_ids: Ids of tasks from earlier plans of the same run (on a replan): the
            new plan may refer to them and may not reuse them.
        unavailable: Among `known_ids`, the tasks that have no value (they failed or
            were skipped), with why; a line that refers to one is rejected with that
            reason, since it could never run.
        max_repeats: After this many lines that repeat an earlier call of the plan
            exactly (same tool, same arguments), the plan ends there: small models can
            loop on a line or two until their token limit. Fewer repeats run as
            written (a tool with effects may be called twice on purpose). A repeat of
            a call whose result is reused within a run (`Tool.repeatable`: read-only
            or idempotent, not destructive) ends the plan at once: it could
            only return the result the plan already has, and in the local model's
            recorded plans every such first repeat began a loop (47 of 47 plans).
            Either way the plan is cut, not wrong: the line is not a rejected one
            but `cut`, and the lines before it stand. `None`: no limit, no cut.

    Example:
        ```python
        parser = PlanParser(tools=registry)
        async for chunk in model_stream:
            for item in parser.feed(chunk):
                ...
        for item in parser.close():
            ...
        ```
    """

    def __init__(
        self,
        tools: Iterable[ToolLike] | Mapping[str, ToolLike] | None = None,
        *,
        known_ids: Iterable[int] = (),
        unavailable: Mapping[int, str] | None = None,
        max_repeats: int | None = 3,
    ) -> None:
        if tools is None:
            self._tools: dict[str, ToolLike] | None = None
        elif isinstance(tools, Mapping):
            self._tools = dict(tools)
        else:
            self._tools = {t.name: t for t in tools}
        self._known: set[int] = set(known_ids)
        self._unavailable: dict[int, str] = dict(unavailable or {})
        self._seen: set[int] = set(self._known)
        self._buffer = ""
        self._thought: list[str] = []
        self._joined = False
        self._ended = False
        self._max_repeats = max_repeats
        self._repeats = 0
        self._calls: dict[str, int] = {}  # a call's text -> the first task that made it
        self.tasks: list[PlanTask] = []
        """Every task accepted so far, in order."""
        self.errors: list[PlanError] = []
        """Every line rejected so far, in order."""
        self.cut: PlanError | None = None
        """The line at which the parser ended a looping plan, and why (see `max_repeats`)."""

    @property
    def joined(self) -> bool:
        """Whether the plan has closed with ``join()``."""
        return self._joined

    @property
    def ended(self) -> bool:
        """Whether the end marker was seen or `close()` was called."""
        return self._ended

    def feed(self, chunk: str) -> list[PlanItem]:
        """Take the next piece of text; return the items of the lines it completed."""
        if self._ended or "\n" not in chunk:
            if not self._ended:
                self._buffer += chunk
            return []
        lines = (self._buffer + chunk).split("\n")
        self._buffer = lines.pop()
        out: list[PlanItem] = []
        for line in lines:
            self._line(line, out)
            if self._ended:
                self._buffer = ""
                break
        return out

    def close(self) -> list[PlanItem]:
        """End the text: parse what is left in the buffer and stop."""
        out: list[PlanItem] = []
        if not self._ended:
            self._line(self._buffer, out)
            self._buffer = ""
            self._ended = True
        return out

    # -- one line ------------------------------------------------------------------

    def _line(self, raw: str, out: list[PlanItem]) -> None:
        line = raw.replace(OPEN, "").replace(CLOSE, "").strip()
        end = line.find(END_OF_PLAN)
        if end >= 0:
            line = line[:end].strip()
            self._ended = True
        if not line:
            return
        if match := _THOUGHT_LINE.match(line):
            if thought := match.group(1).strip():
                self._thought.append(thought)
            return
        if match := _TASK_LINE.match(line):
            if len(match.group(1)) > _MAX_ID_DIGITS:
                error = PlanError("the task number is too large", line=line)
                self.errors.append(error)
                out.append(error)
                return
            task_id, call = int(match.group(1)), match.group(2).strip().strip("`").strip()
        elif _JOIN_CALL.match(line.strip("`")):
            task_id, call = None, "join()"
        else:
            return  # prose between plan lines carries no call
        item = self._call(task_id, call, line)
        if isinstance(item, PlanTask):
            self.tasks.append(item)
        elif item is not None:
            self.errors.append(item)
        if item is not None:
            out.append(item)

    def _call(self, task_id: int | None, call: str, line: str) -> PlanItem | None:
        if _JOIN_CALL.match(call):
            self._joined = True
            self._thought.clear()
            return None
        if self._joined:
            return PlanError("a call after join() is not part of the plan", line=line)
        assert task_id is not None  # only numbered lines carry calls other than join()
        if task_id in self._seen:
            return PlanError(f"task id {task_id} is already taken", line=line)
        self._seen.add(task_id)
        thought = " ".join(self._thought) or None
        self._thought.clear()
        try:
            tool, args = self._parse_call(call)
            task = PlanTask(task_id, tool, args, thought=thought)
            self._check(task)
        except PlanError as exc:
            return PlanError(exc.reason, line=line, task_id=task_id)
        if (loop := self._loop(task)) is not None:
            self.cut = PlanError(loop, line=line, task_id=task_id)
            self._ended = True
            return None
        return task

    def _loop(self, task: PlanTask) -> str | None:
        """Why the plan ends at this repeat of an earlier call, or None if it runs."""
        key = format_call(task.tool, dict(sorted(task.args.items())))
        first = self._calls.setdefault(key, task.id)
        if first == task.id:
            return None
        self._repeats += 1
        if self._max_repeats is None:
            return None
        tool = None if self._tools is None else self._tools.get(task.tool)
        if tool is not None and tool.repeatable:
            return f"it repeats task {first}, whose result the plan already has: the plan ends here"
        if self._repeats >= self._max_repeats:
            return (
                f"the plan repeats earlier calls ({self._repeats} times, this one as task "
                f"{first}): it ends here"
            )
        return None

    def _check(self, task: PlanTask) -> None:
        for dep in sorted(task.deps):
            if dep == task.id:
                raise PlanError(f"task {task.id} refers to itself")
            if dep not in self._seen:
                raise PlanError(f"${dep} refers to a task that does not exist yet")
            if dep in self._unavailable:
                raise PlanError(f"${dep} has no result to use: {self._unavailable[dep]}")

    def _parse_call(self, call: str) -> tuple[str, dict[str, Arg]]:
        if len(call) > _MAX_LINE:
            raise PlanError(f"the call is longer than {_MAX_LINE} characters")
        tree = expression(call)
        if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
            raise PlanError("expected a call like tool(arg=value)")
        name = tree.func.id
        tool = None
        if self._tools is not None:
            tool = self._tools.get(name)
            if tool is None:
                raise PlanError(f"unknown tool {name!r}")
        try:
            positional = [read_value(node) for node in tree.args]
            keywords: dict[str, Arg] = {}
            for kw in tree.keywords:
                if kw.arg is None:
                    raise PlanError("**kwargs is not allowed")
                arg = argument_name(kw.arg)
                if arg in keywords:
                    raise PlanError(f"argument {arg!r} is given twice")
                keywords[arg] = read_value(kw.value)
        except RecursionError:
            raise PlanError("the arguments are nested too deeply") from None
        return name, _bind(name, tool, positional, keywords)


def parse_plan(
    text: str, tools: Iterable[ToolLike] | Mapping[str, ToolLike] | None = None
) -> list[PlanItem]:
    """Parse a whole plan text at once (see `PlanParser`)."""
    parser = PlanParser(tools)
    return parser.feed(text) + parser.close()


def _bind(
    name: str, tool: ToolLike | None, positional: list[Arg], keywords: dict[str, Arg]
) -> dict[str, Arg]:
    if tool is None:
        if positional:
            raise PlanError("positional arguments need a known tool signature")
        return keywords
    params = tool.parameter_names
    if len(positional) > len(params):
        raise PlanError(f"{name} takes {len(params)} arguments, {len(positional)} were given")
    args: dict[str, Arg] = dict(zip(params, positional, strict=False))
    for key, value in keywords.items():
        if key in args:
            raise PlanError(f"argument {key!r} is given twice")
        if key not in tool.parameter_names:
            raise PlanError(f"{name} has no argument {key!r}; it takes {', '.join(params)}")
        args[key] = value
    if missing := [p for p in tool.required_names if p not in args]:
        raise PlanError(f"{name} is missing required argument(s) {', '.join(missing)}")
    return args
