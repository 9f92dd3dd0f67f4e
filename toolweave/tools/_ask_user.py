"""The built-in ``ask_user`` tool: the planner asks the person for what the request lacks."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from toolweave.tools._tool import Tool

__all__ = ["AskUser", "ask_user_tool"]

AskUser: TypeAlias = Callable[[str], Awaitable[str] | str]
"""Answers a question for the person (or the case) the agent works for."""


def ask_user_tool(answer: AskUser) -> Tool:
    """The built-in ``ask_user`` tool, answered by `answer`."""

    async def ask_user(question: str) -> str:
        reply = answer(question)
        return await reply if inspect.isawaitable(reply) else reply

    return Tool.from_schema(
        "ask_user",
        "Ask the user for information that the request lacks and no tool can find "
        "(a preference, a choice, a personal detail). Returns the user's answer.",
        {
            "type": "object",
            "properties": {"question": {"type": "string", "description": "One clear question."}},
            "required": ["question"],
        },
        ask_user,
        idempotent=False,
    )
