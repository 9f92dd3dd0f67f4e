"""`Joiner`: reads the results and decides, `Finish(answer)` or `Replan(reason)`."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from toolweave.errors import PlanError
from toolweave.fetcher import TaskResult
from toolweave.models import Message, Model, ModelSettings, Usage
from toolweave.planner._prompts import Prompts, final_result, joiner_messages
from toolweave.tools import Tool

__all__ = [
    "FINISH_GRAMMAR",
    "Decision",
    "Finish",
    "JoinReply",
    "Joiner",
    "JoinerProtocol",
    "Replan",
    "finish_grammar",
    "parse_join",
]

_ACTION = re.compile(
    r"(?:^\s*|(?<=[.!?] ))\**\s*Action\s*\**\s*:\s*\**\s*(Finish|Replan)\b\s*", re.I | re.M
)  # at a line's start, or after a sentence ("... from the results. Action: Finish(...)")
_THOUGHT = re.compile(r"Thought\s*:\s*(.*?)(?=^\s*\**\s*Action\s*\**\s*:|\Z)", re.I | re.S | re.M)

FINISH_GRAMMAR = 'root ::= "Thought:" [^\\n]{0,400} "\\n" "Action: Finish(" [^\\n]+ ")" "\\n"?\n'
"""The joiner's reply when it must answer: one Thought line, then ``Finish(...)``.

Sent when no replan is left, so that a model that asks for one anyway (a small local
model does) answers instead; models that take no grammar ignore it. The thought is
cut at 400 characters (a small model can repeat one sentence until its token limit)."""


def finish_grammar(*, thought: bool = True, replan: bool = False) -> str:
    """The joiner's grammar: `FINISH_GRAMMAR`, without its Thought, or replan allowed.

    `thought=False` leaves the Thought line out; `replan=True` allows ``Replan(...)``
    too (the grammar while a replan is left: it bounds the thought and makes the reply
    end with an Action line; in baseline6, 4 of 36 suite runs failed on a joiner reply
    with none, two of them a sentence repeated to the 512-token limit; with it, all four
    answer: evals/reports/ablations/joiner-grammar/).

    A converged plan's last value is the answer: a thought about it adds only tokens.
    (Forcing that value into the answer was tried and dropped: where the model's text
    did not contain it, the local model stalled for a minute at the end of its reply.)
    """
    if replan:
        return (
            'root ::= "Thought:" [^\\n]{0,400} "\\n" "Action: " ("Finish" | "Replan") "(" '
            '[^\\n]+ ")" "\\n"?\n'
        )
    if thought:
        return FINISH_GRAMMAR
    return 'root ::= "Action: Finish(" [^\\n]+ ")" "\\n"?\n'


@dataclass(frozen=True, slots=True)
class Finish:
    """The results answer the request."""

    answer: str
    thought: str | None = None


@dataclass(frozen=True, slots=True)
class Replan:
    """The results are not enough; plan again, for this reason."""

    reason: str
    thought: str | None = None


Decision = Finish | Replan


def _action(text: str) -> tuple[re.Match[str], str, bool] | None:
    """The first Action line of a reply: its match, its body, and whether it is complete.

    A body in parentheses may hold parentheses and newlines: it ends at the first
    newline where no parenthesis is left open, at its last closing parenthesis. Another
    body ends at its line's end. A next Action line ends either.
    """
    match = _ACTION.search(text)
    if match is None:
        return None
    rest = text[match.end() :]
    after = _ACTION.search(rest)
    if after is not None:
        rest = rest[: after.start()]
    stripped = rest.lstrip()
    if not stripped.startswith("("):
        line, newline, _ = stripped.removeprefix(":").partition("\n")
        return match, line, bool(newline) or after is not None
    depth, end = 0, len(stripped)
    for index, char in enumerate(stripped):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "\n" and depth <= 0:
            end = index
            break
    complete = end < len(stripped) or after is not None
    close = stripped.rfind(")", 0, end)
    return match, stripped[1:close] if close > 0 else stripped[1:end], complete


def _action_complete(text: str) -> bool:
    """Whether a joiner reply so far holds a whole Action line (the rest can be dropped)."""
    found = _action(text)
    return found is not None and found[2]


def parse_join(text: str) -> Decision:
    """Read a joiner reply: ``Thought: ...`` then ``Action: Finish(...)`` or ``Replan(...)``.

    The answer may hold parentheses and newlines: it runs from the opening parenthesis
    to the last closing one before a newline that leaves no parenthesis open. The first
    Action line wins: a small model that answers and then copies the prompt's
    ``Action: Replan(...)`` template has answered.

    Raises:
        PlanError: The reply has no ``Action: Finish(...)`` or ``Action: Replan(...)``.
    """
    found = _action(text)
    if found is None:
        raise PlanError(
            "the joiner's reply has no 'Action: Finish(...)' or 'Action: Replan(...)' line",
            line=text.strip()[:500],
        )
    match, body, _ = found
    body = body.strip().strip('"').strip()
    thought_match = _THOUGHT.search(text[: match.start()])
    thought = " ".join(thought_match.group(1).split()) if thought_match else None
    if match.group(1).lower() == "finish":
        return Finish(body, thought or None)
    return Replan(body or "the joiner asked for a new plan without a reason", thought or None)


@dataclass(slots=True)
class JoinReply:
    """A joiner call: its decision, the raw text, usage and timings."""

    decision: Decision
    text: str
    usage: Usage = field(default_factory=Usage)
    started_at: float = 0.0
    finished_at: float = 0.0
    messages: list[Message] = field(default_factory=list)
    """The messages the call was made with (a typed answer's repair continues them)."""


@runtime_checkable
class JoinerProtocol(Protocol):
    """What an `Agent` needs of a joiner (``Agent(joiner=...)``)."""

    async def decide(
        self,
        request: str,
        results: Sequence[TaskResult],
        rejected: Sequence[PlanError] = (),
        *,
        must_finish: bool = False,
        offered: Sequence[Tool] = (),
        max_tokens: int | None = None,
        instructions: str | None = None,
        conversation: Sequence[Message] = (),
    ) -> JoinReply:
        """Read every result of the run so far and decide: finish, or plan again.

        `must_finish` asks for an answer from what there is; `offered` are the tools
        the last plan could call; `max_tokens` caps the reply; `instructions` say
        more about the answer (a typed answer's schema); `conversation` is the
        planner's, ending with the last plan (a joiner may continue it).
        """
        ...


class Joiner:
    """Asks a model whether the results answer the request.

    Args:
        model: The model that reads the results.
        max_tokens: At most this many tokens per reply.
        prompts: The prompt texts; the defaults otherwise.
        tools: Tools whose one-line descriptions the joiner may need (units, meaning).
        continue_plan: Where the run passes the planner's conversation, continue it
            (one more user turn: the results and `Prompts.joiner_ask`) instead of
            starting from the joiner's own system prompt. With the planner's model,
            a prefix cache then reads only the results: on the local model this
            saves the evaluation of about 200 prompt tokens a run.
    """

    def __init__(
        self,
        model: Model,
        *,
        max_tokens: int = 512,
        prompts: Prompts | None = None,
        tools: Sequence[Tool] = (),
        continue_plan: bool = True,
    ) -> None:
        self.model = model
        self.continue_plan = continue_plan
        self.settings = ModelSettings(max_tokens=max_tokens)
        self.prompts = prompts or Prompts()
        self.tools: Sequence[Tool] = tools
        """Tools whose one-line descriptions the joiner may need (units, meaning)."""

    async def decide(
        self,
        request: str,
        results: Sequence[TaskResult],
        rejected: Sequence[PlanError] = (),
        *,
        must_finish: bool = False,
        offered: Sequence[Tool] = (),
        max_tokens: int | None = None,
        instructions: str | None = None,
        conversation: Sequence[Message] = (),
    ) -> JoinReply:
        """Read the results and decide.

        Args:
            request: The user's request.
            results: Every task of the run so far.
            rejected: The last plan's rejected lines.
            must_finish: No replan is allowed: the joiner must answer.
            offered: The tools the last plan could call (the joiner is told which
                of them no call used).
            max_tokens: A tighter cap on the reply's tokens than the joiner's own
                (what is left of a run's token budget).
            instructions: More to say about the answer (a typed answer's schema).
            conversation: The planner's messages and its last plan, which the joiner
                continues if `continue_plan`.

        Raises:
            ModelError: The endpoint failed.
            PlanError: The reply cannot be read (no Action line); `.line` holds it.
        """
        final = final_result(results) if must_finish and not instructions else None
        messages = joiner_messages(
            request,
            results,
            rejected,
            tools=self.tools,
            offered=offered,
            must_finish=must_finish,
            prompts=self.prompts,
            final=final,
            conversation=conversation if self.continue_plan else (),
        )
        if instructions:
            last = messages[-1]
            messages[-1] = {"role": last["role"], "content": f"{last['content']}\n\n{instructions}"}
        grammar = None
        if not instructions:  # answer (after a converged plan, at once), or replan
            grammar = finish_grammar(thought=final is None, replan=not must_finish)
        return await self.ask(messages, max_tokens=max_tokens, grammar=grammar)

    async def ask(
        self, messages: list[Message], *, max_tokens: int | None = None, grammar: str | None = None
    ) -> JoinReply:
        """One joiner call with these messages, its reply read as a decision.

        `grammar` constrains the reply where the model takes one (GBNF).

        Raises:
            ModelError: The endpoint failed.
            PlanError: The reply cannot be read (no Action line); `.line` holds it.
        """
        started = time.perf_counter()
        settings = self.settings.capped(max_tokens)
        if grammar is not None:
            settings = replace(settings, grammar=grammar)
        async with self.model.stream(messages, settings) as response:
            async for chunk in response:
                if "\n" in chunk and _action_complete(response.text):
                    break  # what follows a whole Action line is never read
        return JoinReply(
            parse_join(response.text),
            response.text,
            response.usage,
            started,
            time.perf_counter(),
            messages,
        )
