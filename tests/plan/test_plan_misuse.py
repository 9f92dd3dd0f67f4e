"""Misusing the plan grammar's API is a `UserError` (the caller's fault), not a ValueError."""

from __future__ import annotations

import pytest

from toolweave import tool
from toolweave.errors import UserError
from toolweave.plan import plan_grammar


@tool(read_only=True)
def population(country: str) -> int:
    """Population of a country."""
    return 1


def test_a_plan_grammar_needs_at_least_one_tool() -> None:
    with pytest.raises(UserError, match="a plan grammar needs at least one tool"):
        plan_grammar([])


@pytest.mark.parametrize("first_id", [0, -3])
def test_a_plan_grammar_numbers_from_1_or_more(first_id: int) -> None:
    with pytest.raises(UserError, match="first_id must be 1 or more"):
        plan_grammar([population], first_id=first_id)
    assert plan_grammar([population], first_id=1).accepts('1. population(country="x")\njoin()\n')
