"""The house's rules, checked: the layers contract, no import circle, small modules.

The contract and the graph live in `scripts/imports.py` (run it to see a violation's
line, or ``--dot`` for a drawing); this test loads it by path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "toolweave"


@pytest.fixture(scope="module")
def contract() -> ModuleType:
    spec = importlib.util.spec_from_file_location("toolweave_imports", ROOT / "scripts/imports.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_import_keeps_to_the_layers(contract: ModuleType) -> None:
    assert contract.violations() == []


def test_no_import_circle_but_the_documented_typing_only_ones(contract: ModuleType) -> None:
    assert contract.cycles() == []


def test_every_component_has_a_layer(contract: ModuleType) -> None:
    layered = {name for layer in contract.LAYERS for name in layer}
    components = {contract.component(name) for name in contract.modules()}
    assert components <= layered, components - layered


def _package(tmp: Path, files: dict[str, str]) -> dict[str, Path]:
    found = {}
    for name, text in files.items():
        path = tmp / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        found[name] = path
    return found


def test_the_contract_catches_an_import_up_even_inside_a_function(
    contract: ModuleType, tmp_path: Path
) -> None:
    found = _package(
        tmp_path,
        {
            "toolweave.plan._parser": "def f():\n    from toolweave.agent import Agent\n",
            "toolweave.agent": "from toolweave.plan._parser import f\n",
        },
    )
    assert contract.violations(found) == [
        "toolweave.plan._parser:2 -> toolweave.agent (up from plan to agent)"
    ]
    assert contract.cycles(found) == [["toolweave.agent", "toolweave.plan._parser"]]


def test_typing_only_imports_count_unless_documented(contract: ModuleType, tmp_path: Path) -> None:
    found = _package(
        tmp_path,
        {
            "toolweave.errors": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from toolweave.result import RunResult\n"
                "    from toolweave.agent import Agent\n"
            ),
            "toolweave.result": "from toolweave.errors import UserError\n",
            "toolweave.agent": "",
        },
    )
    assert contract.violations(found) == [
        "toolweave.errors:4 -> toolweave.agent (up from errors to agent)"
    ]
    assert contract.cycles(found) == []  # errors -> result is documented
    assert contract.cycles(found, documented=True) == [["toolweave.errors", "toolweave.result"]]


def test_siblings_of_one_layer_do_not_import_each_other(
    contract: ModuleType, tmp_path: Path
) -> None:
    found = _package(
        tmp_path,
        {"toolweave.plan._ir": "import toolweave.models\n", "toolweave.models": ""},
    )
    assert contract.violations(found) == [
        "toolweave.plan._ir:1 -> toolweave.models (plan and models are one layer's siblings)"
    ]


def test_every_module_is_under_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) >= 400
    }
    assert long == {}


def test_the_package_root_holds_public_modules_and_the_run_loop() -> None:
    private = sorted(
        p.name
        for p in PACKAGE.iterdir()
        if p.name.startswith("_")
        and p.name not in {"__init__.py", "__main__.py", "__pycache__", "_run"}
    )
    assert private == []


def test_every_subpackage_says_what_it_holds_and_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = init.read_text().split('"""')[1] if init.read_text().startswith('"""') else ""
        assert doc.strip(), f"{init.parent.name} has no docstring"
        assert "import" in doc.lower() or "floor" in doc.lower() or "layer" in doc.lower(), (
            f"{init.parent.name}'s docstring does not say what it may import"
        )


def test_the_drawing_in_the_docs_is_current(contract: ModuleType) -> None:
    page = (ROOT / "docs/layers.md").read_text()
    drawing = page.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert drawing.strip() == contract.mermaid().strip(), (
        "docs/layers.md is out of date: python scripts/imports.py --mermaid"
    )
