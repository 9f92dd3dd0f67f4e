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
the whole text. A call is read with `ast` after its refs are swapped for placeholders,
and only literals, containers, unary minus and refs are accepted: model output is never
evaluated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from toolweave.errors import PlanError
from toolweave.plan._ir import Arg, PlanTask, Ref, Template, format_call

if TYPE_CHECKING:
    from toolweave.tools import Tool

__all__ = ["END_OF_PLAN", "PlanItem", "PlanParser", "parse_plan"]

END_OF_PLAN = "<END_OF_PLAN>"

PlanItem = PlanTask | PlanError
"""What the parser yields for a line: an accepted task, or the reason a line was not."""

_TASK_LINE = re.compile(r"^(?:[-*]\s*)?(\d+)\s*[.:)]\s*(.*)$")
_THOUGHT_LINE = re.compile(r"^Thought\s*:\s*(.*)$", re.IGNORECASE)
_JOIN_CALL = re.compile(r"^join\s*\(\s*\)$")
_REF = re.compile(r"\$\{(\d{1,9})\}|\$(\d{1,9})(?!\d)")
# Inside string literals a ref becomes a pair of private-use sentinels around its id;
# outside, a placeholder name. Neither can come from the model: sentinels are removed
# from the input first, and placeholder names are reserved.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SENTINEL = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_TEXT_PATH = re.compile(r"(?:\.[A-Za-z_]\w*|\[\d+\])+")
_TEXT_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"^__tw_ref_(\d+)__$")
_JSON_NAMES: dict[str, Arg] = {"true": True, "false": False, "null": None}
_MAX_LINE = 20_000
# Python cannot turn an integer of more than 4,300 digits into text (and every result,
# event and log shows it as text): about 1,000 digits is plenty for any argument.
_MAX_INT_BITS = 3_400
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
        tools: Iterable[Tool] | Mapping[str, Tool] | None = None,
        *,
        known_ids: Iterable[int] = (),
        unavailable: Mapping[int, str] | None = None,
        max_repeats: int | None = 3,
    ) -> None:
        if tools is None:
            self._tools: dict[str, Tool] | None = None
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
        line = raw.replace(_OPEN, "").replace(_CLOSE, "").strip()
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
        tree = _expression(call)
        if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
            raise PlanError("expected a call like tool(arg=value)")
        name = tree.func.id
        tool = None
        if self._tools is not None:
            tool = self._tools.get(name)
            if tool is None:
                raise PlanError(f"unknown tool {name!r}")
        try:
            positional = [_value(node) for node in tree.args]
            keywords: dict[str, Arg] = {}
            for kw in tree.keywords:
                if kw.arg is None:
                    raise PlanError("**kwargs is not allowed")
                if kw.arg in keywords:
                    raise PlanError(f"argument {kw.arg!r} is given twice")
                keywords[kw.arg] = _value(kw.value)
        except RecursionError:
            raise PlanError("the arguments are nested too deeply") from None
        return name, _bind(name, tool, positional, keywords)


_RESULT_ARROW = re.compile(r"\)\s*->")


def _expression(call: str) -> ast.expr:
    """The call's syntax tree.

    A line that goes on after the call with ``-> result`` (small models copy the
    result lines of a replan prompt into their plan) parses as the call alone: the
    written result is ignored, the call runs.
    """
    try:
        return ast.parse(_swap_refs(call), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        for arrow in _RESULT_ARROW.finditer(call):
            try:
                tree = ast.parse(_swap_refs(call[: arrow.start() + 1]), mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if isinstance(tree, ast.Call):
                return tree
        raise PlanError(f"not a valid call: {getattr(exc, 'msg', exc)}") from None


def parse_plan(
    text: str, tools: Iterable[Tool] | Mapping[str, Tool] | None = None
) -> list[PlanItem]:
    """Parse a whole plan text at once (see `PlanParser`)."""
    parser = PlanParser(tools)
    return parser.feed(text) + parser.close()


def _bind(
    name: str, tool: Tool | None, positional: list[Arg], keywords: dict[str, Arg]
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


def _swap_refs(call: str) -> str:
    """Replace refs by placeholders: names outside string literals, sentinels inside."""
    out: list[str] = []
    i, n = 0, len(call)
    while i < n:
        c = call[i]
        if c in "\"'":
            quote = c * 3 if call.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not call.startswith(quote, j):
                j += 2 if call[j] == "\\" else 1
            end = min(j + len(quote), n)
            out.append(
                _REF.sub(lambda m: f"{_OPEN}{m.group(1) or m.group(2)}{_CLOSE}", call[i:end])
            )
            i = end
        elif c == "$":
            match = _REF.match(call, i)
            if match is None:
                raise PlanError("'$' must be followed by a task id")
            out.append(f"__tw_ref_{match.group(1) or match.group(2)}__")
            i = match.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _value(node: ast.expr) -> Arg:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return _string(value)
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            raise PlanError("the number is too large to be an argument")
        if value is None or isinstance(value, bool | int | float):
            return value
        raise PlanError(f"{type(value).__name__} literals are not allowed")
    if isinstance(node, ast.Attribute | ast.Subscript):
        return _path(node)
    if isinstance(node, ast.Name):
        if match := _PLACEHOLDER.match(node.id):
            return Ref(int(match.group(1)))
        if node.id in _JSON_NAMES:
            return _JSON_NAMES[node.id]
        raise PlanError(f"bare name {node.id!r} is not a value (quote strings, use $N for results)")
    if isinstance(node, ast.List | ast.Tuple):
        return [_value(item) for item in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Arg] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise PlanError("dict keys must be plain strings")
            out[key.value.replace(_OPEN, "$").replace(_CLOSE, "")] = _value(item)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        number = operand.value if isinstance(operand, ast.Constant) else None
        if isinstance(number, int | float) and not isinstance(number, bool):
            return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.JoinedStr):
        raise PlanError("f-strings are not allowed; use $N inside a plain string")
    raise PlanError(f"{type(node).__name__} expressions are not allowed in arguments")


def _path(node: ast.Attribute | ast.Subscript) -> Ref:
    """A ref with a path: ``$1.price``, ``$1["price"]``, ``$1.items[0]``."""
    steps: list[str | int] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute | ast.Subscript):
        if isinstance(current, ast.Attribute):
            steps.append(current.attr)
        else:
            key = _value(current.slice) if isinstance(current.slice, _KEYS) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise PlanError('a ref\'s [...] takes a literal key or index: $1["name"], $1[0]')
            steps.append(key)
        current = current.value
    if not (isinstance(current, ast.Name) and (match := _PLACEHOLDER.match(current.id))):
        raise PlanError("only a ref has fields: $1.name")
    return Ref(int(match.group(1)), tuple(reversed(steps)))


_KEYS = (ast.Constant, ast.UnaryOp)


def _string(value: str) -> str | Template:
    if _OPEN not in value:
        return value
    parts: list[str | Ref] = []
    pos = 0
    for match in _SENTINEL.finditer(value):
        if match.start() > pos:
            parts.append(value[pos : match.start()])
        path = _TEXT_PATH.match(value, match.end())  # "$1.name" (text if $1 has no name)
        steps = _TEXT_STEP.findall(path.group()) if path else []
        parts.append(Ref(int(match.group(1)), tuple(int(i) if i else n for n, i in steps)))
        pos = path.end() if path else match.end()
    if pos < len(value):
        parts.append(value[pos:])
    return Template(tuple(parts))
