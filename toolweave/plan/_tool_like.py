"""What the plan layer knows of a tool: a protocol, so that it needs no tools package.

The parser checks a call's arguments against the tool's parameters and marks calls of
repeatable tools; the grammar lists the tools and the fields of their results. A
`toolweave.tools.Tool` is a `ToolLike`; so is any object with these read-only members.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["ToolLike"]


class ToolLike(Protocol):
    """A tool as the plan layer sees it."""

    @property
    def name(self) -> str:
        """The name a plan calls it by."""
        ...

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Its parameters, in signature order (positional arguments bind in this order)."""
        ...

    @property
    def required_names(self) -> frozenset[str]:
        """The parameters without a default."""
        ...

    @property
    def repeatable(self) -> bool:
        """Whether a repeated call has the effect of one."""
        ...

    @property
    def output_fields(self) -> Mapping[str, str]:
        """The fields of its result, each with its type as planners read it."""
        ...
