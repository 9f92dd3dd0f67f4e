"""toolweave's imports: the layers contract, checked, and a drawing of the graph.

Every import counts: at module level, inside functions, and under ``TYPE_CHECKING``.
A module may import its own component (``toolweave.plan._parser`` imports
``toolweave.plan._ir``) and any component of a lower layer; nothing else, except the
typing-only names listed in `TYPING_ONLY`.

Usage:
    python scripts/imports.py            check the contract; print the violations
    python scripts/imports.py --cycles   the import circles between modules (none but
                                         through the documented typing-only imports)
    python scripts/imports.py --dot      the component graph in Graphviz's DOT
    python scripts/imports.py --mermaid  the same as a Mermaid chart (docs/layers.md holds it)
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "toolweave"

LAYERS: list[list[str]] = [
    ["errors", "version"],
    ["redaction"],
    ["storage"],
    ["plan", "models", "tools"],
    ["executor", "retrieval"],
    ["events"],
    ["fetcher", "sources"],
    ["planner", "result"],
    ["cost", "session"],
    ["telemetry"],
    ["_run"],
    ["agent"],
    ["toolweave"],
    ["demo"],
    ["evals"],
    ["cli"],
    ["__main__"],
]
"""Components from the ground up; those of one layer do not import each other."""

TYPING_ONLY: dict[tuple[str, str], str] = {
    ("errors", "result"): "an error carries the run's `RunResult` (as httpx's name `Request`)",
    ("events", "result"): "`RunFinished` and `RunEvents` carry the run's `RunResult`",
    ("events", "planner"): "`JoinDecided` carries the joiner's `Decision`",
}
"""Upward imports allowed under ``TYPE_CHECKING`` only, each with its reason."""


@dataclass(frozen=True, slots=True)
class Import:
    """One import of a toolweave module by another."""

    source: str
    target: str
    line: int
    typing_only: bool


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(found: dict[str, Path]) -> Iterator[Import]:
    """Every import between toolweave's modules."""
    for name, path in found.items():
        tree = ast.parse(path.read_text(), str(path))
        typing = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                # ``from pkg import sub`` imports the submodule; ``from pkg import name``, pkg
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in found else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                resolved = _resolve(target, found)
                if resolved is not None and resolved != name:
                    yield Import(name, resolved, node.lineno, node.lineno in typing)


def _resolve(target: str, found: dict[str, Path]) -> str | None:
    while target.startswith("toolweave"):
        if target in found:
            return target
        target = target.rpartition(".")[0]
    return None


def component(module: str) -> str:
    """``toolweave.plan._parser`` -> ``plan``; the root (the public API) is ``toolweave``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "toolweave"


def violations(found: dict[str, Path] | None = None) -> list[str]:
    """Each import that breaks the contract, as ``source:line -> target (why)``."""
    found = modules() if found is None else found
    layer = {c: i for i, names in enumerate(LAYERS) for c in names}
    problems = []
    for imp in imports(found):
        source, target = component(imp.source), component(imp.target)
        if source == target:
            continue
        where = f"{imp.source}:{imp.line} -> {imp.target}"
        if source not in layer or target not in layer:
            problems.append(f"{where} (a component in no layer: add it to LAYERS)")
        elif layer[target] < layer[source] or (imp.typing_only and (source, target) in TYPING_ONLY):
            continue
        elif layer[target] == layer[source]:
            problems.append(f"{where} ({source} and {target} are one layer's siblings)")
        else:
            problems.append(f"{where} (up from {source} to {target})")
    return sorted(set(problems))


def cycles(found: dict[str, Path] | None = None, *, documented: bool = False) -> list[list[str]]:
    """The circles among modules (strongly connected components of two or more).

    Args:
        found: The modules (the package's by default).
        documented: Count the documented typing-only imports (`TYPING_ONLY`) too.
    """
    found = modules() if found is None else found
    edges: dict[str, set[str]] = {name: set() for name in found}
    for imp in imports(found):
        pair = (component(imp.source), component(imp.target))
        if documented or not (imp.typing_only and pair in TYPING_ONLY):
            edges[imp.source].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                circles.append(sorted(members))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(found)))
    for node in found:
        if node not in index:
            visit(node)
    return sorted(circles)


def component_edges(found: dict[str, Path] | None = None) -> dict[tuple[str, str], bool]:
    """Each pair of components where one imports the other: whether only for typing."""
    found = modules() if found is None else found
    pairs: dict[tuple[str, str], bool] = {}
    for imp in imports(found):
        key = (component(imp.source), component(imp.target))
        if key[0] != key[1]:
            pairs[key] = pairs.get(key, True) and imp.typing_only
    return pairs


def dot(found: dict[str, Path] | None = None) -> str:
    """The component graph (an edge per importing pair; dashed: typing only)."""
    pairs = component_edges(found)
    lines = ["digraph toolweave {", "  rankdir=BT;", "  node [shape=box];"]
    for rank in LAYERS:
        lines.append("  { rank=same; " + " ".join(f'"{c}";' for c in rank) + " }")
    for (source, target), typing_only in sorted(pairs.items()):
        style = " [style=dashed]" if typing_only else ""
        lines.append(f'  "{source}" -> "{target}"{style};')
    lines.append("}")
    return "\n".join(lines)


def mermaid(found: dict[str, Path] | None = None) -> str:
    """The component graph as a Mermaid flowchart, layers as rows from the ground up."""
    pairs = component_edges(found)
    lines = ["flowchart BT"]
    for number, rank in enumerate(LAYERS):
        lines.append(f"  subgraph layer{number}[ ]")
        lines.extend(f"    {c.strip('_')}[{c}]" for c in rank)
        lines.append("  end")
    for (source, target), typing_only in sorted(pairs.items()):
        arrow = "-.->" if typing_only else "-->"
        lines.append(f"  {source.strip('_')} {arrow} {target.strip('_')}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", action="store_true", help="print the import circles")
    parser.add_argument(
        "--documented", action="store_true", help="with --cycles: count TYPING_ONLY imports"
    )
    parser.add_argument("--dot", action="store_true", help="print the graph in DOT")
    parser.add_argument("--mermaid", action="store_true", help="print the graph in Mermaid")
    args = parser.parse_args()
    if args.dot:
        print(dot())
        return 0
    if args.mermaid:
        print(mermaid())
        return 0
    if args.cycles:
        for circle in cycles(documented=args.documented):
            print(len(circle), " ".join(circle))
        return 0
    problems = violations()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} import(s) break the layers contract")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
