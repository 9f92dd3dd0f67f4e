"""Your own evaluation cases: a JSON Lines file, run over any tool source.

One JSON object per line (blank lines are skipped)::

    {"id": "warmer", "request": "How much warmer is Rome than Paris?",
     "calls": [{"tool": "temperature", "args": {"city": "Rome"}},
               {"tool": "temperature", "args": {"city": "Paris"}},
               {"tool": "difference", "args": {"a": 27.0, "b": 21.5}, "deps": [1, 2]}],
     "answer": "5.5", "fanout": 2}

- ``request`` (required): what the user asks.
- ``id``: unique in the file; the line number by default.
- ``calls``: the gold calls, in order; each has ``tool``, ``args`` (the values the call
  should get, earlier results filled in; scored where given), an ``id`` (its position,
  from 1, by default) and ``deps`` (the ids of the calls whose results it uses).
  Scored: API precision, recall, F1 and exact match, argument accuracy, and where
  ``deps`` are given the DAG's edges.
- ``answer``: the gold answer; scored as found (normalised) in the agent's answer.
- ``fanout``: how many independent calls the request needs (of ``fanout_tool`` if
  given, else of any tool); scored as the plan's number of calls without ``deps``.

`load_cases` reads and validates a file, with errors that name the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic

from toolweave.errors import UserError
from toolweave.evals.cases import EvalCase, Suite
from toolweave.evals.metrics import Call
from toolweave.tools import ToolRegistry

__all__ = ["load_cases", "user_suite"]


class _GoldCall(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    tool: str = pydantic.Field(min_length=1)
    args: dict[str, Any] = {}
    id: int | None = pydantic.Field(None, ge=1)
    deps: list[int] = []


class _Case(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    request: str = pydantic.Field(min_length=1)
    id: str | int | None = None
    calls: list[_GoldCall] = []
    answer: str | int | float | None = None
    fanout: int | None = pydantic.Field(None, ge=1)
    fanout_tool: str | None = None


def load_cases(path: str | Path, *, suite: str | None = None) -> list[EvalCase]:
    """The cases of a JSON Lines file.

    Args:
        path: The file.
        suite: The suite's name in results and reports; the file's stem by default.

    Raises:
        UserError: The file is missing or a line is malformed; the message names the
            file, the line and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no cases file {path}")
    name = suite or path.stem
    cases: list[EvalCase] = []
    ids: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from exc
        try:
            case = _Case.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise UserError(f"{where}: {_problems(exc)}") from exc
        case_id = str(case.id) if case.id is not None else str(number)
        if case_id in ids:
            raise UserError(f"{where}: id {case_id!r} is already used on line {ids[case_id]}")
        ids[case_id] = number
        cases.append(_eval_case(name, case_id, case, where))
    if not cases:
        raise UserError(f"{path} holds no cases")
    return cases


def user_suite(path: str | Path, tools: ToolRegistry, *, suite: str | None = None) -> Suite:
    """A suite of the file's cases over `tools` (real tools: nothing is simulated).

    Raises:
        UserError: As `load_cases`; or a gold call names a tool that `tools` lacks.
    """
    cases = load_cases(path, suite=suite)
    for case in cases:
        for call in case.calls:
            if call.tool not in tools:
                raise UserError(
                    f"{path}: case {case.id}: gold call {call.id} names tool {call.tool!r}, "
                    f"which the tools do not have ({', '.join(tools.names[:10])}, ...)"
                )
    return Suite(
        cases[0].suite,
        f"your cases from {path}",
        lambda: tools,
        lambda: cases,
        simulated=False,
    )


def _eval_case(suite: str, case_id: str, case: _Case, where: str) -> EvalCase:
    calls: list[Call] = []
    for index, gold in enumerate(case.calls, 1):
        call_id = gold.id if gold.id is not None else index
        known = {c.id for c in calls}
        if call_id in known:
            raise UserError(f"{where}: calls[{index - 1}]: id {call_id} is already used")
        if unknown := set(gold.deps) - known:
            raise UserError(
                f"{where}: calls[{index - 1}]: deps {sorted(unknown)} name no earlier call"
            )
        calls.append(Call(call_id, gold.tool, gold.args, frozenset(gold.deps)))
    return EvalCase(
        suite,
        case_id,
        case.request,
        tuple(calls),
        ordered=any(c.deps for c in calls),
        answer=None if case.answer is None else str(case.answer),
        answer_checkable=case.answer is not None,
        fanout=case.fanout,
        fanout_tool=case.fanout_tool,
    )


def _problems(exc: pydantic.ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown field {where!r}")
        elif err["type"] == "missing":
            problems.append(f"missing field {where!r}")
        else:
            problems.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(problems)
