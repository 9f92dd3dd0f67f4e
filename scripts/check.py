"""Run every check CI runs: ruff format, ruff lint, mypy --strict, pytest.

Usage: python scripts/check.py [pytest args...]
"""

from __future__ import annotations

import subprocess
import sys

STEPS = [
    ["ruff", "format", "--check", "."],
    ["ruff", "check", "."],
    ["mypy", "toolweave"],
    ["pytest", "-q", *sys.argv[1:]],
]


def main() -> int:
    for step in STEPS:
        print(f"$ {' '.join(step)}", flush=True)
        code = subprocess.call([sys.executable, "-m", *step])
        if code != 0:
            print(f"FAILED: {' '.join(step)} (exit {code})", flush=True)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
