"""ShortcutsBench cases: API selection, parameter filling and asking for what is missing.

ShortcutsBench lists, per shortcut, the primitive and enum parameter values that its
actions need from the query (``all_shortcuts_paras_that_is_necessary_in_query.json``,
keyed by action index), and a text of what the shortcut does
(``generated_success_categories.json``). The first file does not name the actions'
APIs, so each action's API is derived: the registry's APIs that have every parameter
named, whose enums (if any) admit the values. A shortcut becomes a case when every
action derives to exactly one API (1,899 of the 3,329 with a text).

The query is the shortcut's text followed by its settings, each written as the
parameter's label and value ("Property: ZIP Code"). The gold calls are those actions
with their values; they are only part of the workflow (the file lists the actions
that need values from the query), so the suite scores recall and argument accuracy,
not precision.

Every third case that has a free-text or number setting leaves one out ("Message: not
given"): the simulated user gives it when the agent calls ``ask_user``. Every case
offers ``ask_user``, so asking when nothing is missing counts against a strategy.
"""

from __future__ import annotations

import re
from collections import defaultdict

from toolweave.evals.cases import EvalCase, Missing
from toolweave.evals.metrics import Call, values_equal
from toolweave.evals.registries import _read, load_shortcutsbench, safe_name
from toolweave.tools import ToolRegistry

__all__ = ["shortcutsbench_cases"]

_ASK_EVERY = 3
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _derive(
    values: dict[str, object], by_param: dict[str, set[str]], registry: ToolRegistry
) -> set[str]:
    """The APIs that have every parameter in `values` and admit its enum values."""
    candidates = set.intersection(*(by_param.get(name, set()) for name in values))
    fitting = set()
    for api in candidates:
        props = registry[safe_name(api)].parameters.get("properties", {})
        if all(
            not (enum := props.get(name, {}).get("enum"))
            or any(values_equal(value, e) for e in enum)
            for name, value in values.items()
        ):
            fitting.add(api)
    return fitting


def _label(registry: ToolRegistry, tool: str, parameter: str) -> str:
    """A parameter's human label: its description's first phrase, or its name in words."""
    props = registry[tool].parameters.get("properties", {})
    description = str(props.get(parameter, {}).get("description", "")).strip()
    first = description.split(".", 1)[0].strip()
    if first and len(first) <= 40:
        return first
    name = parameter.removeprefix("WF")
    return _CAMEL.sub(" ", name).replace("_", " ").strip().capitalize() or parameter


def _free(registry: ToolRegistry, call: Call, parameter: str, value: object) -> bool:
    """Whether a setting is free text or a number (not a yes/no, not an enum choice)."""
    prop = registry[call.tool].parameters.get("properties", {}).get(parameter, {})
    return (
        not isinstance(value, bool)
        and prop.get("type") != "boolean"
        and not prop.get("enum")
        and bool(_spoken(value).strip())
    )


def _spoken(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shortcutsbench_cases() -> list[EvalCase]:
    """The suite's cases, in the order of the source file."""
    registry = load_shortcutsbench()
    types: dict[str, dict[str, str]] = _read("shortcutsbench/all_api2paraname2paratype.json")
    texts: dict[str, dict[str, str]] = _read("shortcutsbench/generated_success_categories.json")
    needed: dict[str, dict[str, dict[str, object]]] = _read(
        "shortcutsbench/all_shortcuts_paras_that_is_necessary_in_query.json"
    )
    by_param: dict[str, set[str]] = defaultdict(set)
    for api, params in types.items():
        for name in params:
            by_param[name].add(api)
    cases = []
    eligible = 0
    for url, actions in needed.items():
        text = texts.get(url, {}).get("english_functionality")
        if not text or not actions:
            continue
        calls: list[Call] = []
        for number, (_, values) in enumerate(sorted(actions.items(), key=lambda kv: int(kv[0])), 1):
            apis = _derive(values, by_param, registry) if values else set()
            if len(apis) != 1:
                break
            calls.append(Call(number, safe_name(apis.pop()), dict(values)))
        else:
            settings = [(call, name, value) for call in calls for name, value in call.args.items()]
            askable = [s for s in settings if _free(registry, *s)]
            missing: Missing | None = None
            if askable:
                eligible += 1
                if eligible % _ASK_EVERY == 1:
                    call, name, value = askable[0]
                    missing = Missing(call.id, name, _spoken(value))
            gap = (missing.call, missing.parameter) if missing else None
            lines = [
                f"{_label(registry, call.tool, name)}: "
                + ("not given" if (call.id, name) == gap else _spoken(value))
                for call, name, value in settings
            ]
            query = f"{text.strip()}\nSettings: " + "; ".join(lines) + "."
            cases.append(
                EvalCase(
                    "shortcutsbench",
                    url.rsplit("/", 1)[-1],
                    query,
                    tuple(calls),
                    gold_partial=True,
                    offer_gold=True,
                    ask_tool=True,
                    missing=missing,
                )
            )
    return cases
