"""Reproduce the reference report (evals/reports/reference/), or a part of it.

    python evals/reports/reproduce.py OUT                       # all of it, into OUT
    python evals/reports/reproduce.py OUT --part countries      # countries only
    python evals/reports/reproduce.py OUT --part suites --strategy llmcompiler --limit 2
    python evals/reports/reproduce.py OUT --dry-run             # print the commands only

The reference's runs, on the embedded local model (greedy), seed 0, every model call
recorded, one case at a time on every core:

- `countries` (`OUT/countries`): 30 cases on the demo's real tools (no added latency),
  llmcompiler, react and parallel-fc;
- the six suites (`OUT/suites`): parallelqa, movie, hotpotqa, autotools, restbench and
  shortcutsbench, 6 cases each on simulated tools (0.3 s median latency), llmcompiler
  and react. They run in two passes (the first half of each suite's seeded sample, then
  the rest), so that an interrupted run covers every suite.

Then the same decisions are replayed at an API's pace (`--pace`, 0.4 s to first token
and 80 tokens/s) into `OUT/PART/replay`, over the cases that every strategy finished,
and `summarize.py` prints the tables. `--strategy` and `--limit` replace the reference's
strategies and case counts for every part. Resumable: rows already in
`OUT/PART/results.jsonl` are not run again, so rerun the same command after an
interruption. `--dry-run` prints the commands (the replay over the whole sample, as a
finished run would have it) and runs nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLWEAVE = [sys.executable, "-m", "toolweave"]
SUITES = ("parallelqa", "movie", "hotpotqa", "autotools", "restbench", "shortcutsbench")
STRATEGIES = {  # the reference's, per part
    "countries": ("llmcompiler", "react", "parallel-fc"),
    "suites": ("llmcompiler", "react"),
}
LIMITS = {"countries": 30, "suites": 6}  # cases per suite


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Reproduce evals/reports/reference/ (or a part of it) into OUT.",
        epilog="The reference itself: python evals/reports/reproduce.py evals/reports/reference",
    )
    parser.add_argument("out", type=Path, help="output folder (OUT/countries, OUT/suites)")
    parser.add_argument(
        "--part", choices=("all", "countries", "suites"), default="all", help="default: all"
    )
    parser.add_argument(
        "--strategy",
        action="append",
        metavar="NAME",
        help="repeatable; default: llmcompiler, react and parallel-fc on countries, "
        "llmcompiler and react on the suites",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="cases per suite; default: 30 countries, 6 each"
    )
    parser.add_argument(
        "--suite", action="append", choices=SUITES, help="with the suites: only these"
    )
    parser.add_argument("--model", default="local", help="default: local")
    parser.add_argument("--threads", type=int, default=None, help="the local model's threads")
    parser.add_argument("--seed", type=int, default=0, help="default: 0")
    parser.add_argument("--pace", default="0.4,80", help="the replay's TTFT,TPS")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--replay-only", action="store_true", help="only the replay")
    steps.add_argument("--no-replay", action="store_true", help="no replay")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    return args


def sample(suite: str, limit: int, seed: int) -> list[str]:
    """The ids of a suite's seeded sample, in sample order (what `--limit` runs)."""
    from toolweave.evals.suites import seeded_sample, suites

    return [case.id for case in seeded_sample(suites()[suite].cases(), limit, seed)]


def finished(results: Path, suite: str, strategies: int) -> list[str]:
    """The cases of `suite` that every strategy finished, from a results file."""
    runs: collections.Counter[str] = collections.Counter()
    lines = results.read_text().splitlines() if results.exists() else []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by an interruption
        if row["suite"] == suite:
            runs[row["id"]] += 1
    return [case for case, n in runs.items() if n == strategies]


def cases(ids: Sequence[str]) -> list[str]:
    """`--case ID` for each id."""
    return [arg for case in ids for arg in ("--case", case)]


def options(flag: str, values: Sequence[str]) -> list[str]:
    """`flag value` for each value."""
    return [arg for value in values for arg in (flag, value)]


def measure(args: argparse.Namespace, part: str, suite: str, ids: Sequence[str]) -> list[str]:
    """The command that runs (and records) some cases of one suite on the model."""
    where = args.out / part
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    return [
        *TOOLWEAVE,
        "eval",
        suite,
        "--limit",
        str(args.limit or LIMITS[part]),
        "--seed",
        str(args.seed),
        "--model",
        args.model,
        *threads,
        *options("--strategy", args.strategy or STRATEGIES[part]),
        "--record",
        str(where / "record"),
        "--out",
        str(where),
        *cases(ids),
    ]


def replay(args: argparse.Namespace, part: str, suite: str, ids: Sequence[str]) -> list[str]:
    """The command that replays some recorded cases at an API's pace."""
    where = args.out / part
    return [
        *TOOLWEAVE,
        "eval",
        suite,
        "--limit",
        str(args.limit or LIMITS[part]),
        "--seed",
        str(args.seed),
        *cases(ids),
        "--replay",
        str(where / "record"),
        "--pace",
        args.pace,
        *options("--strategy", args.strategy or STRATEGIES[part]),
        "--out",
        str(where / "replay"),
    ]


def parts(args: argparse.Namespace) -> dict[str, list[str]]:
    """The suites of each part to run."""
    out = {}
    if args.part in ("all", "countries"):
        out["countries"] = ["countries"]
    if args.part in ("all", "suites"):
        out["suites"] = list(args.suite or SUITES)
    return out


def execute(command: list[str], dry_run: bool) -> None:
    """Run one command (or print it), stopping at the first that fails."""
    print(shlex.join(command), flush=True)  # noqa: T201
    if not dry_run:
        subprocess.run(command, check=True)


def main(argv: Sequence[str]) -> int:
    """Measure, replay, summarize."""
    args = parse(argv)
    todo = parts(args)
    limit = {part: args.limit or LIMITS[part] for part in todo}
    if not args.replay_only:
        if "countries" in todo:
            execute(measure(args, "countries", "countries", []), args.dry_run)
        if "suites" in todo:
            half = (limit["suites"] + 1) // 2
            for start, stop in ((0, half), (half, limit["suites"])):
                for suite in todo["suites"]:
                    ids = sample(suite, limit["suites"], args.seed)[start:stop]
                    if ids:
                        execute(measure(args, "suites", suite, ids), args.dry_run)
    if not args.no_replay:
        for part, names in todo.items():
            strategies = len(args.strategy or STRATEGIES[part])
            for suite in names:
                results = args.out / part / "results.jsonl"
                ids = finished(results, suite, strategies)
                if args.dry_run and not results.exists():
                    ids = sample(suite, limit[part], args.seed)
                if ids:
                    execute(replay(args, part, suite, ids), args.dry_run)
    runs = [str(args.out / part) for part in todo]
    execute([sys.executable, str(HERE / "summarize.py"), *runs], args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
