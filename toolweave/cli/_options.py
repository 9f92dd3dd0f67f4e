"""What the command line's options name: tool sources and registries, an index, tracing.

`load_tools` reads ``--tools``, `load_registry` reads ``--registry``, `index_dir` says
where ``tools search`` (and the REPL) keep a registry's index, and `tracer_provider`
reads ``--trace-console``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from toolweave.errors import UserError
from toolweave.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["index_dir", "load_registry", "load_tools", "tracer_provider"]

_SOURCE_KINDS = ("mcp:", "openapi:")


def load_tools(specs: str | Sequence[str]) -> ToolRegistry:
    """The registry that ``--tools`` strings name (see `toolweave.sources.registry_from_specs`).

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
    from toolweave.sources import registry_from_specs  # the HTTP client: only when needed

    return registry_from_specs(*specs)


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


def tracer_provider(args: argparse.Namespace) -> TracerProvider | None:
    """Where ``--trace-console`` sends the runs' spans: the console, or nowhere."""
    if not args.trace_console:
        return None
    from toolweave.telemetry import console_provider

    return console_provider()
