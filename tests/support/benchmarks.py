"""The benchmark modules the fault-campaign tests drive, loaded from benchmarks/ by path.

benchmarks/ holds scripts, not a package, and is not on the tests' import path: a test
gets a campaign module from a fixture (tests/faults/conftest.py) or, where it needs one
while it is collected, from `load_benchmark`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """`benchmarks/<name>.py`, imported once, by its path.

    A benchmark imports the modules beside it by name (``probes``, ``faults_secrets``),
    as a script does, and the worker processes a campaign starts import its tools by
    module name: so once one is loaded, the folder is on ``sys.path`` too, last, where it
    shadows nothing.
    """
    path = BENCHMARKS / f"{name}.py"
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    module = sys.modules.get(name)
    if module is not None:
        if Path(module.__file__ or "").resolve() != path:
            raise ImportError(f"a module {name!r} from {module.__file__} is loaded, not {path}")
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no benchmark module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses, and pickles sent to workers, look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
