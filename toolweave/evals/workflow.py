"""Gold plans from WorkflowLLM's Python-style Shortcuts code: calls and their DAG.

Only a few of the 50 workflows parse as strict Python, so this reads the code line by
line instead: every call of a known API is a node, in order of appearance; a variable
assigned from a call (or from an expression over other variables) carries that call's
output; a call that uses a variable (as an argument, inside an f-string's braces, in a
subscript) depends on the calls behind it. Side-effecting actions (alerts, saves, UI,
messages) also keep their relative order, as the workflow runs them in sequence.
Nested calls on one line (``f(x=g(y))``, once in the 50 workflows) run inner first
and feed the outer; the line's variables count as inputs of both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from toolweave.evals.metrics import Call

__all__ = ["SIDE_EFFECT_WORDS", "WorkflowPlan", "parse_workflow"]

SIDE_EFFECT_WORDS = (
    "alert",
    "notification",
    "show",
    "speak",
    "save",
    "write",
    "append",
    "delete",
    "send",
    "sms",
    "email",
    "post",
    "open",
    "play",
    "set",
    "create",
    "add",
    "remove",
    "vibrate",
    "copy",
    "share",
    "print",
    "exit",
)
"""Words in an API id that mark an action with effects outside the workflow."""

_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*=(?!=)\s*(.*)$")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_STRING = re.compile(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", re.S)
_BRACES = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class WorkflowPlan:
    """The gold calls of a workflow (ids from 1, in order) with their dependencies."""

    calls: tuple[Call, ...]

    @property
    def apis(self) -> list[str]:
        """The API ids called, in order, with repeats."""
        return [c.tool for c in self.calls]

    @property
    def edges(self) -> set[tuple[int, int]]:
        """(producer id, consumer id) pairs."""
        return {(d, c.id) for c in self.calls for d in c.deps}


_KWARG = re.compile(
    r"(\w+)\s*=\s*(?P<value>'''(?P<triple>.*?)'''|\"(?P<double>[^\"\n]*)\"|'(?P<single>[^'\n]*)'"
    r"|(?P<boolean>True|False)|(?P<number>-?\d+(?:\.\d+)?))(?=\s*[,)])",
    re.S,
)


def _literal_args(expression: str) -> dict[str, object]:
    """The call's keyword arguments given as plain literals (no variables, no f-strings)."""
    args: dict[str, object] = {}
    for match in _KWARG.finditer(expression):
        name, start = match.group(1), match.start("value")
        if expression[start - 1 : start] in ("f", "F"):  # an f-string: not a literal
            continue
        if match.group("boolean") is not None:
            args[name] = match.group("boolean") == "True"
        elif (number := match.group("number")) is not None:
            args[name] = float(number) if "." in number else int(number)
        else:
            text = next(
                t
                for t in (match.group("triple"), match.group("double"), match.group("single"))
                if t is not None
            )
            if "{" not in text:
                args[name] = text
    return args


def _side_effect(api: str) -> bool:
    last = api.rsplit(".", 1)[-1].lower()
    return any(word in last for word in SIDE_EFFECT_WORDS)


def _used_names(text: str) -> set[str]:
    """Identifiers a line uses: outside strings, and inside f-string braces."""
    names = set()
    for literal in _STRING.findall(text):
        for inner in _BRACES.findall(literal):
            names.update(_IDENT.findall(inner))
    names.update(_IDENT.findall(_STRING.sub(" ", text)))
    return names


def parse_workflow(code: str, apis: Sequence[str]) -> WorkflowPlan:
    """Derive the gold calls and DAG of a workflow from its code and its API list.

    Args:
        code: The workflow's Python-style code (``annotated_code``).
        apis: The API ids it uses; their function names in the code are the ids with
            dots as underscores.
    """
    by_function = {api.replace(".", "_"): api for api in apis}
    call_pattern = (
        re.compile(
            r"\b("
            + "|".join(sorted(map(re.escape, by_function), key=len, reverse=True))
            + r")\s*\("
        )
        if by_function
        else None
    )
    producers: dict[str, frozenset[int]] = {}  # variable -> the calls its value comes from
    calls: list[Call] = []
    last_effect: int | None = None
    for raw in code.splitlines():
        line = raw.split("#", 1)[0] if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        assign = _ASSIGN.match(line)
        target, expression = (assign.group(1), assign.group(2)) if assign else (None, line)
        used = _used_names(expression)
        inputs = frozenset().union(*(producers.get(name, frozenset()) for name in used))
        found = call_pattern.findall(expression) if call_pattern else []
        made: set[int] = set()
        inner: int | None = None
        for function in reversed(found):  # f(x=g(y)): g runs first, and feeds f
            api = by_function[function]
            deps = set(inputs) | ({inner} if inner is not None else set())
            if _side_effect(api):
                if last_effect is not None:
                    deps.add(last_effect)
                last_effect = len(calls) + 1
            args = _literal_args(expression) if len(found) == 1 else {}
            call = Call(len(calls) + 1, api, args, frozenset(deps))
            calls.append(call)
            made.add(call.id)
            inner = call.id
        if target is not None:
            producers[target] = frozenset(made) if made else inputs
    return WorkflowPlan(tuple(calls))
