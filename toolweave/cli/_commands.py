"""The ``tools`` and ``log`` commands, and tool registries named on the command line."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from toolweave.cli._safe import one_line
from toolweave.errors import UserError
from toolweave.tools import Retriever, Tool, ToolRegistry

__all__ = [
    "index_dir",
    "load_registry",
    "load_tools",
    "log_command",
    "tools_forget",
    "tools_learn",
    "tools_list",
    "tools_search",
]

_SOURCE_KINDS = ("mcp:", "openapi:")


def load_tools(specs: str | Sequence[str]) -> ToolRegistry:
    """The registry that ``--tools`` strings name (see `ToolRegistry.from_specs`).

    One ``MODULE:ATTRIBUTE`` naming a registry gives that registry itself. Sources
    (``mcp:...``, ``openapi:...``) join when the registry is opened.
    """
    specs = [specs] if isinstance(specs, str) else list(specs)
    if len(specs) == 1 and not specs[0].startswith(_SOURCE_KINDS):
        module_name, _, attribute = specs[0].partition(":")
        if module_name and attribute:
            try:
                value = getattr(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError) as exc:
                raise UserError(f"cannot load tools from {specs[0]!r}: {exc}") from exc
            if isinstance(value, ToolRegistry):
                return value
    return ToolRegistry.from_specs(*specs)


def load_registry(spec: str) -> ToolRegistry:
    """A registry from a built-in set's name, ``MODULE:ATTR``, or a JSON file of tools."""
    from toolweave.evals import registries

    builtin = {
        "toole": registries.load_toole,
        "sealtools": registries.load_sealtools,
        "shortcutsbench": registries.load_shortcutsbench,
        "autotools": registries.load_autotools,
    }
    if spec in builtin:
        return builtin[spec]()
    if spec.startswith(_SOURCE_KINDS):
        return load_tools(spec)
    path = Path(spec).expanduser()
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UserError(f"no registry file {path}")
        try:
            entries = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} is not JSON: {exc}") from exc
        registry = ToolRegistry()
        for entry in entries if isinstance(entries, list) else [entries]:
            fn = entry.get("function", entry) if isinstance(entry, dict) else None
            if not isinstance(fn, dict) or "name" not in fn:
                raise UserError(f"{path}: expected OpenAI tools ({{'function': {{'name': ...}}}})")
            registry.add(
                Tool.from_schema(fn["name"], fn.get("description", ""), fn.get("parameters"))
            )
        return registry
    if ":" not in spec:
        raise UserError(
            f"--registry wants {', '.join(builtin)}, MODULE:ATTR, a source "
            f"(mcp:..., openapi:...) or a JSON file of OpenAI tools, not {spec!r}"
        )
    return load_tools(spec)


def index_dir(spec: str, embedder: str) -> Path:
    """Where `tools search` keeps a registry's index: one for each embedder."""
    from toolweave.models._weights import cache_dir

    digest = hashlib.sha256(spec.encode()).hexdigest()[:12]
    return cache_dir() / "index" / f"{Path(spec).stem or 'registry'}-{digest}-{embedder}"


async def _cached_retriever(args: argparse.Namespace, console: Console) -> Retriever:
    """The retriever over ``--registry``, its index kept in the cache (see `index_dir`)."""
    from toolweave.tools._embedders import ReportingEmbedder, embedder_named

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


async def log_command(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from toolweave.cli._runlog import RunLog

    log = RunLog()
    run_id = args.show_id if args.run_id == "show" else args.run_id
    if not run_id and (args.run_id == "show" or args.svg):
        what = "log show" if args.run_id == "show" else "log --svg"
        raise UserError(f"{what} needs a run id (or a unique prefix); `toolweave log` lists them")
    if run_id:
        run = log.get(run_id)
        if run is None:
            raise UserError(f"no single run matches {run_id!r}")
        if args.svg:
            from toolweave.cli._timeline import timeline_svg

            svg = timeline_svg(run.result)
            await asyncio.to_thread(_write, args.svg, svg)
            console.print(Text(f"the timeline of run {run.run_id}: {args.svg}"))
        else:
            console.print_json(json.dumps(run.result))
        return 0
    table = Table(box=None, header_style="bold")
    columns = ("run", "when", "model", "status", "tasks", "tokens", "cost", "seconds", "request")
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=48)
    for run in log.recent(args.limit):
        table.add_row(
            run.run_id,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created)),
            Text(one_line(run.model)),
            run.status,
            str(run.tasks),
            str(run.prompt_tokens + run.completion_tokens),
            _cost(run.result),
            f"{run.wall_time:.1f}",
            Text(one_line(run.request, 200)),
        )
    console.print(table)
    return 0


def _write(path: str, text: str) -> None:
    Path(path).expanduser().write_text(text)


def _cost(result: dict[str, Any]) -> str:
    """A logged run's cost; "?" where a call's price was unknown (or an older log entry)."""
    calls = result.get("calls", [])
    if "cost" not in result or any(c.get("cost") is None for c in calls):
        return "?"
    return f"{result['cost']:.4f}"
