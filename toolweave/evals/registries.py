"""Loaders: the public tool sets in the repository's ``evals/data`` as `ToolRegistry`s.

Tools loaded from data have no implementation: they are descriptions, which the
retriever indexes and which the evaluation suite can back with simulated behaviour.
Each tool keeps its original id in ``metadata["id"]`` and its source in
``metadata["source"]``; its `name` is that id made a valid tool name.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from toolweave.errors import UserError
from toolweave.tools import Tool, ToolRegistry

__all__ = [
    "data_dir",
    "load_autotools",
    "load_sealtools",
    "load_shortcutsbench",
    "load_toole",
    "safe_name",
]

_INVALID = re.compile(r"[^A-Za-z0-9_]+")
_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "dict": "object",
    "object": "object",
}


def data_dir() -> Path:
    """The repository's ``evals/data`` (set ``TOOLWEAVE_EVALS_DATA`` to move it)."""
    import os

    if env := os.environ.get("TOOLWEAVE_EVALS_DATA"):
        return Path(env)
    path = Path(__file__).resolve().parents[2] / "evals" / "data"
    if not path.is_dir():
        raise UserError(
            f"evaluation data not found at {path}: run from a checkout of the toolweave "
            "repository, or set TOOLWEAVE_EVALS_DATA"
        )
    return path


def safe_name(identifier: str) -> str:
    """A valid tool name for any id.

    Invalid characters become ``_``; long ids are shortened with a hash suffix so
    that distinct ids stay distinct.
    """
    name = _INVALID.sub("_", identifier).strip("_") or "tool"
    if name[0].isdigit():
        name = f"t_{name}"
    if name == "join":
        name = "join_"
    if len(name) > 64:
        digest = hashlib.sha1(identifier.encode()).hexdigest()[:8]
        name = f"{name[:55]}_{digest}"
    return name


def _read(relative: str) -> Any:
    path = data_dir() / relative
    with path.open(encoding="utf-8") as f:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in f if line.strip()]
        return json.load(f)


def load_toole() -> ToolRegistry:
    """ToolE (MetaTool): 199 tools.

    The description joins the short one of ``plugin_des.json`` with the plugin's human
    name and its description for the model from ``plugin_info.json``, where the plugin
    has one (153 of 199).
    """
    descriptions: dict[str, str] = _read("toole/plugin_des.json")
    info = {p["name_for_model"]: p for p in _read("toole/plugin_info.json")}
    registry = ToolRegistry()
    for name, text in descriptions.items():
        parts = [text]
        if plugin := info.get(name):
            for_model = plugin.get("description_for_model", "")
            parts = [plugin.get("name_for_human", ""), text]
            if " ".join(for_model.split()) != " ".join(text.split()):
                parts.append(for_model)
        registry.add(
            Tool.from_schema(
                safe_name(name),
                " ".join(" ".join(p.split()) for p in parts if p),
                None,
                metadata={"id": name, "source": "toole"},
            )
        )
    return registry


def load_sealtools() -> ToolRegistry:
    """Seal-Tools: 4,076 tools with typed parameters and documented responses."""
    registry = ToolRegistry()
    for entry in _read("sealtools/tool.jsonl"):
        props = {
            name: {
                "type": _TYPES.get(str(spec.get("type", "str")).lower(), "string"),
                "description": spec.get("description", ""),
            }
            for name, spec in (entry.get("parameters") or {}).items()
        }
        responses = entry.get("responses") or {}
        returns = "; ".join(f"{k}: {v.get('description', '')}" for k, v in responses.items())
        tool = Tool.from_schema(
            safe_name(entry["api_name"]),
            entry.get("api_description", ""),
            {"type": "object", "properties": props, "required": entry.get("required", [])},
            returns=returns or None,
            metadata={"id": entry["api_name"], "source": "sealtools", "field": entry.get("field")},
        )
        registry.add(tool, replace=True)  # the set lists a few names twice
    return registry


_PATH_PARAM = re.compile(r"\{(\w+)\}")
_SB_PARAM = re.compile(r"^\s{4}(\w+):\s*(.*)$")


def load_shortcutsbench() -> ToolRegistry:
    """The ShortcutsBench API registry: 1,414 APIs of 88 apps.

    With parameter types, enum values and return values where the registry gives them.
    """
    info: dict[str, str] = _read("shortcutsbench/all_api2info.json")
    types: dict[str, dict[str, str]] = _read("shortcutsbench/all_api2paraname2paratype.json")
    registry = ToolRegistry()
    for api, text in info.items():
        description, params, returns = _parse_shortcuts_doc(text)
        props = {}
        for name, kind in types.get(api, {}).items():
            if name.startswith("ThisIsReturnValue:"):
                returns = name.split(":", 1)[1] + (f" ({returns})" if returns else "")
                continue
            prop: dict[str, Any] = {"type": _shortcuts_type(kind)}
            desc = params.get(name, "")
            if enum := _enum(desc):
                prop["enum"] = enum
                desc = desc[: desc.find("The value of this Enum")].strip()
            if desc:
                prop["description"] = desc
            props[name] = prop
        registry.add(
            Tool.from_schema(
                safe_name(api),
                description,
                {"type": "object", "properties": props},
                returns=returns,
                metadata={"id": api, "source": "shortcutsbench", "app": api.rsplit(".", 1)[0]},
            ),
            replace=True,
        )
    return registry


def _parse_shortcuts_doc(text: str) -> tuple[str, dict[str, str], str | None]:
    section = ""
    description: list[str] = []
    params: dict[str, str] = {}
    returns: list[str] = []
    for line in text.splitlines()[1:]:
        head = line.strip().rstrip(":")
        if head in ("Parameters", "Description", "Returns") and line.rstrip().endswith(":"):
            section = head
            continue
        if line.startswith("ParameterSummary:"):
            section = ""
            continue
        if section == "Parameters" and (m := _SB_PARAM.match(line)):
            params[m.group(1)] = m.group(2).strip()
        elif section == "Description":
            description.append(line.strip())
        elif section == "Returns":
            returns.append(line.strip())
    return " ".join(description).strip(), params, " ".join(returns).strip() or None


def _shortcuts_type(kind: str) -> str:
    """A JSON type for a ShortcutsBench type: ``Bool = True`` is a boolean with a default."""
    base = kind.split("(")[0].split("=")[0].strip().lower()
    if base in ("bool", "boolean"):
        return "boolean"
    if base in ("int", "integer", "double", "float", "number"):
        return "number"  # the shortcuts give "Integer" parameters values like 0.15
    return "string"


_ENUM_VALUES = re.compile(r"must be one of the following values[^:]*:\s*(.*)$")


def _enum(description: str) -> list[str] | None:
    match = _ENUM_VALUES.search(description)
    return re.findall(r'"([^"]*)"', match.group(1)) or None if match else None


def load_autotools(*domains: str) -> ToolRegistry:
    """AutoTools / RestBench endpoint specs (food, weather, tmdb, game, music, spotify).

    Path parameters (``{movie_id}`` in the URL), which the specs leave out of the
    parameter lists, become required arguments.
    An endpoint's sample response, when the spec has one, is kept in
    ``metadata["sample_response"]`` for simulation.
    """
    domains = domains or ("food", "weather", "tmdb", "game", "music", "spotify")
    registry = ToolRegistry()
    for domain in domains:
        spec = _read(f"autotools/{domain}.tools.json")
        for endpoint in spec.get("endpoints", []):
            props: dict[str, Any] = {}
            required: list[str] = []
            for param in endpoint.get("parameters") or []:
                schema = dict(param.get("schema") or {"type": "string"})
                schema.pop("default", None)
                if desc := param.get("description"):
                    schema["description"] = desc
                props[param["name"]] = schema
                if param.get("required"):
                    required.append(param["name"])
            for name in _PATH_PARAM.findall(endpoint.get("url") or ""):  # /movie/{movie_id}
                if name not in props:
                    props[name] = {"type": ["integer", "string"], "description": "in the path"}
                    required.append(name)
            name = safe_name(f"{domain}_{endpoint.get('name') or endpoint['url']}")
            registry.add(
                Tool.from_schema(
                    name,
                    endpoint.get("description", ""),
                    {"type": "object", "properties": props, "required": required},
                    metadata={
                        "id": endpoint.get("name"),
                        "source": f"autotools/{domain}",
                        "method": endpoint.get("method"),
                        "url": endpoint.get("url"),
                        "sample_response": endpoint.get("response"),
                    },
                ),
                replace=True,
            )
    return registry
