#!/usr/bin/env bash
# One issue-10 baseline on the embedded local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M,
# greedy), seed 0, every model call recorded, one case at a time on every core (two
# processes of one thread each were 3-4x slower a call on the 2-core machine):
#   countries (30 cases, the demo's real tools), llmcompiler, react, parallel-fc
#                                                          -> OUT/countries
#   six suites x 6 cases (simulated tools, 0.3 s median), llmcompiler and react, and
#   parallel-fc when N is 3                                -> OUT/suites
# The suites run in two passes (the first half of each suite's sample, then the rest),
# so that an interrupted run covers every suite. Resumable: rerun after an interruption.
# Then the same decisions are replayed at an API's pace (0.4 s to first token, 80 tok/s).
# Usage: baseline.sh OUT N [replay|suites]   (`replay`: only the replay; `suites`: the
# suites and their replay, not countries)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
suite_n=$2  # strategies on the suites: 3 (with parallel-fc) or 2
three=(--strategy llmcompiler --strategy react --strategy parallel-fc)
two=(--strategy llmcompiler --strategy react)
run() {  # run DIR SUITE LIMIT N [--case ID ...]: N strategies
  local dir=$1 suite=$2 limit=$3 n=$4; shift 4
  local -n strategies=$([ "$n" = 3 ] && echo three || echo two)
  .venv/bin/toolweave eval "$suite" --limit "$limit" --seed 0 --model local \
    "${strategies[@]}" --record "$dir/record" --out "$dir" "$@"
}
sample() {  # the ids of a suite's seeded sample, FROM..TO (0-based, exclusive)
  .venv/bin/python - "$@" <<'PY'
import sys
from toolweave.evals.suites import seeded_sample, suites
suite, limit, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for case in seeded_sample(suites()[suite].cases(), limit, 0)[start:stop]:
    print(f"--case\n{case.id}")
PY
}
suites=(parallelqa movie hotpotqa autotools restbench shortcutsbench)
if [ "${3:-}" != "replay" ]; then
  [ "${3:-}" = "suites" ] || run "$out/countries" countries 30 3
  for half in "0 3" "3 6"; do
    for suite in "${suites[@]}"; do
      mapfile -t cases < <(sample "$suite" 6 $half)
      run "$out/suites" "$suite" 6 "$suite_n" "${cases[@]}"
    done
  done
fi
# the replay covers the cases that every strategy finished
for part in countries suites; do
  for suite in countries "${suites[@]}"; do
    [ -f "$out/$part/results.jsonl" ] || continue
    n=$suite_n; [ "$part" = countries ] && n=3
    mapfile -t cases < <(.venv/bin/python - "$out/$part" "$suite" "$n" <<'PY'
import collections, json, pathlib, sys
runs = collections.Counter()
for line in (pathlib.Path(sys.argv[1]) / "results.jsonl").read_text().splitlines():
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        continue
    if row["suite"] == sys.argv[2]:
        runs[row["id"]] += 1
for case, n in runs.items():
    if n == int(sys.argv[3]):
        print(f"--case\n{case}")
PY
)
    [ ${#cases[@]} -gt 0 ] || continue
    limit=6; [ "$suite" = countries ] && limit=30
    local_strategies=("${two[@]}"); [ "$n" = 3 ] && local_strategies=("${three[@]}")
    .venv/bin/toolweave eval "$suite" --limit $limit --seed 0 "${cases[@]}" \
      --replay "$out/$part/record" --pace 0.4,80 "${local_strategies[@]}" \
      --out "$out/$part/replay"
  done
done
