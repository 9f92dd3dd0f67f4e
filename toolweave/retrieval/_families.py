"""Tool families: the provider, server, spec or toolkit a tool comes from.

A request that needs a provider's "account" and its "rates" should get both from one
provider, not five providers' "rates". The retriever scores families from their
members: a family's support for a request is how well its members match it, and each
tool is lifted by the best match among its siblings. A tool whose sibling also serves
the request rises above a near-duplicate from a provider that serves only half of it.

Where a family comes from, in order: `Tool.family`; the tool's metadata (``family``,
``server``, ``spec``, ``provider``, ``toolkit``, ``app``); or a rule the registry
declares over names (`by_suffix`, `by_prefix`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from toolweave.tools import Tool

__all__ = ["FamilyOf", "by_prefix", "by_suffix", "family_of", "sibling_support"]

FamilyOf = Callable[[Tool], "str | None"]
"""A rule that names a tool's family, or `None` for a tool on its own."""

_METADATA_KEYS = ("family", "server", "spec", "provider", "toolkit", "app")


def family_of(tool: Tool) -> str | None:
    """The family a tool declares: `Tool.family`, else one of its metadata keys."""
    if tool.family:
        return tool.family
    for key in _METADATA_KEYS:
        value = tool.metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def by_suffix(separator: str) -> FamilyOf:
    """Families named by what follows the last `separator` in a tool's name.

    ``by_suffix("_for_")`` puts ``rates_for_nitro`` and ``account_for_nitro`` in the
    family ``nitro`` (the RapidAPI / ToolBench naming). A declared family wins.
    """

    def rule(tool: Tool) -> str | None:
        head, found, tail = tool.name.rpartition(separator)
        return family_of(tool) or (tail if found and head and tail else None)

    return rule


def by_prefix(separator: str) -> FamilyOf:
    """Families named by what precedes the first `separator` in a tool's name.

    ``by_prefix("__")`` puts ``github__create_issue`` in the family ``github`` (the
    MCP ``server__tool`` naming). A declared family wins.
    """

    def rule(tool: Tool) -> str | None:
        head, found, tail = tool.name.partition(separator)
        return family_of(tool) or (head if found and head and tail else None)

    return rule


def sibling_support(
    families: npt.NDArray[np.int64], relevance: Sequence[npt.NDArray[np.float32]]
) -> npt.NDArray[np.float32]:
    """How much each candidate's siblings serve the request, one value per candidate.

    Args:
        families: Each candidate's family code; ``-1`` for a tool on its own.
        relevance: For the whole request and each of its intents, every candidate's
            relevance (standardized; only the positive part counts).

    For each intent a family's members are ranked by relevance; a candidate's support
    is the best relevance among the other members, averaged over the intents. A
    family that matches one intent with one tool and another intent with another
    lends each the other's strength; a tool on its own gets none.
    """
    support = np.zeros(len(families), np.float32)
    grouped = families >= 0
    if not grouped.any():
        return support
    codes, inverse = np.unique(families[grouped], return_inverse=True)
    for scores in relevance:
        positive = np.maximum(scores[grouped], 0.0)
        best = np.zeros(len(codes), np.float32)
        np.maximum.at(best, inverse, positive)
        # the best member other than oneself: the runner-up where oneself is the best
        is_best = positive >= best[inverse]
        masked = np.where(is_best, -1.0, positive).astype(np.float32)
        second = np.zeros(len(codes), np.float32)
        np.maximum.at(second, inverse, np.maximum(masked, 0.0))
        # a family's best can be tied: then the runner-up is as good as the best
        ties = np.bincount(inverse, weights=is_best.astype(np.float64), minlength=len(codes))
        second = np.where(ties > 1, best, second)
        support[grouped] += np.where(is_best, second[inverse], best[inverse])
    return (support / max(len(relevance), 1)).astype(np.float32)
