"""The ``tools`` command: ``search``, ``learn``, ``forget``, ``list`` over a registry.

``search``, ``learn`` and ``forget`` use the registry's retriever, its index kept in
the cache (one per registry and embedder, see `toolweave.cli._options.index_dir`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from toolweave.cli._options import index_dir, load_registry
from toolweave.cli._safe import one_line
from toolweave.errors import UserError
from toolweave.retrieval import Retriever

__all__ = ["tools_forget", "tools_learn", "tools_list", "tools_search"]


async def _cached_retriever(args: argparse.Namespace, console: Console) -> Retriever:
    """The retriever over ``--registry``, its index kept in the cache (see `index_dir`)."""
    from toolweave.retrieval._embedders import ReportingEmbedder, embedder_named

    registry = load_registry(args.registry)
    await registry.open()  # a source's tools (mcp:, openapi:) are listed when it opens
    try:
        doing = f"indexing {len(registry)} tools (cached after the first time)"
        with console.status(doing) as status:
            embedder = ReportingEmbedder(
                embedder_named(args.embedder),
                lambda done, total: status.update(f"{doing}: {done}/{total} embedded"),
            )
            path = index_dir(args.registry, args.embedder)
            retriever = Retriever(registry, embedder=embedder, path=path)
        retriever.embedder = embedder.inner  # the spinner is gone: no more reports
        return retriever
    finally:
        await registry.aclose()


async def tools_learn(args: argparse.Namespace, console: Console) -> int:
    from toolweave.agent import RETRIEVE_ABOVE

    retriever = await _cached_retriever(args, console)
    _known(retriever, args.tools, args.registry)
    if retriever.learn(args.request, args.tools):
        console.print(Text(f"learned: {one_line(', '.join(args.tools), 300)} for this request"))
    else:
        console.print(Text("already learned", "dim"))
    if len(retriever) <= RETRIEVE_ABOVE:
        console.print(
            Text(
                f"(an agent offers all {len(retriever)} tools of a registry this small to "
                f"its planner, retrieving none; `tools search` shows what was learned)",
                "dim",
            )
        )
    return 0


async def tools_forget(args: argparse.Namespace, console: Console) -> int:
    if bool(args.tools) == args.all:
        raise UserError("tools forget wants the tools to forget for, or --all (not both)")
    retriever = await _cached_retriever(args, console)
    _known(retriever, args.tools, args.registry)
    count = retriever.forget(*args.tools)
    console.print(Text(f"forgot the learned requests of {count} tool{'s' * (count != 1)}"))
    return 0


def _known(retriever: Retriever, names: Sequence[str], registry: str) -> None:
    if unknown := [name for name in names if name not in retriever]:
        raise UserError(f"no tool named {', '.join(map(repr, unknown))} in {registry}")


async def tools_search(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    if not args.query.strip():
        raise UserError("tools search needs a request to match tools against; it is empty")
    retriever = await _cached_retriever(args, console)
    table = Table(box=None, header_style="bold")
    hits = retriever.search(args.query, args.k, mode=args.mode)
    widest = max((len(hit.tool.name) for hit in hits), default=4)
    for column in ("#", "tool", "fused", "bm25", "dense", "description"):
        table.add_column(
            column,
            no_wrap=True,
            overflow="ellipsis",
            min_width=min(widest, 48) if column == "tool" else None,
        )
    for rank, hit in enumerate(hits, 1):
        table.add_row(
            str(rank),
            Text(one_line(hit.tool.name)),
            f"{hit.fused:.3f}",
            f"{hit.bm25:.2f}",
            f"{hit.dense:.3f}",
            Text(one_line(hit.tool.description, 120)),
        )
    console.print(table)
    return 0


async def tools_list(args: argparse.Namespace, console: Console) -> int:
    async with load_registry(args.registry) as registry:
        for item in registry:
            console.print(
                Text(one_line(item.signature()), "bold"), Text(one_line(item.description, 200))
            )
        console.print(Text(f"{len(registry)} tools", "dim"))
    return 0
