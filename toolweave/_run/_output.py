"""Typed answers: the joiner answers in JSON, validated into the caller's type.

`Agent.run(request, output_type=T)` accepts anything pydantic can validate: a
`BaseModel`, a dataclass, a `TypedDict`, or a plain type (`int`, `list[str]`). The
joiner is shown the type's JSON schema; its ``Finish(...)`` body is validated; if it
does not match, the joiner is asked once more with pydantic's message, and if that
answer does not match either, the run fails with an `OutputError` holding the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import PydanticUserError, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from toolweave.errors import OutputError, PlanError, UserError
from toolweave.models import Message
from toolweave.planner import Finish, Joiner, JoinReply

__all__ = ["OutputSpec", "answer_text", "repair_answer"]

T = TypeVar("T")

_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_GROUPED = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


class OutputSpec(Generic[T]):
    """A requested output type: its JSON schema for the prompt, and its validator.

    Args:
        output_type: What the answer must be (anything pydantic's `TypeAdapter` takes).
    """

    def __init__(self, output_type: type[T]) -> None:
        self.type = output_type
        try:
            self.adapter: TypeAdapter[T] = TypeAdapter(output_type)
            self.schema = self.adapter.json_schema()
        except PydanticUserError as exc:  # a TypedDict from `typing` before 3.12, say
            message = str(exc).split("\n", 1)[0]
            raise UserError(f"output_type {output_type!r} cannot be used: {message}") from exc

    @property
    def instructions(self) -> str:
        """What the joiner reads, after the results, about the answer's form."""
        schema = json.dumps(self.schema, ensure_ascii=False)
        return (
            "Write the answer inside Finish(...) as one JSON value, and nothing else, "
            f"that matches this JSON schema:\n{schema}"
        )

    def validate_text(self, text: str) -> T:
        """The answer's JSON (bare, fenced, or inside other text), validated.

        Raises:
            ValidationError: No reading of `text` matches the type.
        """
        first: ValidationError | None = None
        for candidate in _candidates(text):
            try:
                return self.adapter.validate_json(candidate)
            except ValidationError as exc:
                first = first or exc
        try:  # a bare word for a string, "42" for an int
            return self.adapter.validate_python(text.strip())
        except ValidationError as exc:
            raise first or exc from None

    def validate_value(self, value: object) -> T:
        """A tool's value (for plans answered without the joiner), validated.

        Raises:
            OutputError: It does not match.
        """
        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            raise OutputError(_problem(exc), text=str(value)) from exc


def answer_text(value: object) -> str:
    """A typed answer as the run's text answer: a string as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)


def _candidates(text: str) -> list[str]:
    text = text.strip()
    found = [text, *(m.strip() for m in _FENCED.findall(text))]
    if _GROUPED.fullmatch(text):  # results show large numbers grouped, and answers copy them
        found.append(text.replace(",", ""))
    for opening, closing in ("{}", "[]"):
        start, end = text.find(opening), text.rfind(closing)
        if 0 <= start < end:
            found.append(text[start : end + 1])
    return found


def _problem(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


async def repair_answer(
    spec: OutputSpec[T],
    joiner: Joiner | None,
    reply: JoinReply,
    record: Callable[[JoinReply], None],
    *,
    max_tokens: int | None = None,
) -> T:
    """Validate a Finish reply's answer; on a mismatch, ask the joiner once more.

    Args:
        spec: The output type.
        joiner: Asked again on a mismatch; `None` (a joiner given to the Agent that
            is not a `Joiner`): no second try.
        reply: The joiner's Finish reply.
        record: Called with the repair call's reply (its usage counts), if one is made.
        max_tokens: A cap on the repair reply's tokens (what is left of the budget).

    Returns:
        The typed value.

    Raises:
        OutputError: The answer does not match, before or after the repair.
        ModelError: The endpoint failed during the repair.
    """
    assert isinstance(reply.decision, Finish)
    try:
        return spec.validate_text(reply.decision.answer)
    except ValidationError as exc:
        problem = _problem(exc)
    if joiner is None:
        raise OutputError(problem, text=reply.text)
    messages: list[Message] = [
        *reply.messages,
        {"role": "assistant", "content": reply.text},
        {
            "role": "user",
            "content": f"That answer does not match the schema ({problem}). Reply again "
            "with Thought: and Action: Finish(<JSON>), the JSON matching the schema.",
        },
    ]
    try:
        second = await joiner.ask(messages, max_tokens=max_tokens)
    except PlanError as exc:  # the repair reply had no Action line at all
        raise OutputError(problem, text=exc.line) from exc
    record(second)
    if not isinstance(second.decision, Finish):
        raise OutputError(f"{problem} (then it asked for a new plan)", text=second.text)
    try:
        return spec.validate_text(second.decision.answer)
    except ValidationError as exc:
        raise OutputError(_problem(exc), text=second.decision.answer) from exc
