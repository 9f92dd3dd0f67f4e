#!/usr/bin/env bash
# Reproduces evals/reports/baseline2/: the embedded local model (Qwen2.5-Coder-1.5B-Instruct
# Q4_K_M on the CPU, greedy), seed 0, with llmcompiler, react and parallel-fc (emulated by
# a JSON-list prompt on the local model), case by case. countries runs the demo's real
# tools with no added latency; the other suites simulated tools at 0.3 s median latency.
# Every model call is recorded in $out/record/, then the same decisions are replayed at
# an API endpoint's pace (0.4 s to first token, 80 tokens/s) into $out/replay/.
# THREADS sets the model's CPU threads (default: every core). Resumable: rerun the
# script after an interruption. Arguments: the output directory,
# then the suites to run (default: all of the ones below).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-evals/reports/baseline2}
shift || true
declare -A size=([countries]=30 [parallelqa]=6 [movie]=6 [hotpotqa]=6 [autotools]=6
  [restbench]=6 [shortcutsbench]=6)
suites=${*:-countries parallelqa movie hotpotqa autotools restbench shortcutsbench}
strategies=(--strategy llmcompiler --strategy react --strategy parallel-fc)
for suite in $suites; do
  .venv/bin/toolweave eval "$suite" --limit "${size[$suite]}" --seed 0 --model local \
    --threads "${THREADS:-$(nproc)}" "${strategies[@]}" --record "$out/record" --out "$out"
done
# the replay covers the cases that every strategy finished (all of them after a full run)
for suite in $suites; do
  cases=()
  while read -r id; do [ -n "$id" ] && cases+=(--case "$id"); done < <(.venv/bin/python - "$out" "$suite" <<'PY'
import collections, json, pathlib, sys
rows = []
for line in (pathlib.Path(sys.argv[1]) / "results.jsonl").read_text().splitlines():
    try:
        rows.append(json.loads(line))
    except json.JSONDecodeError:
        continue
runs = collections.Counter(r["id"] for r in rows if r["suite"] == sys.argv[2])
print("\n".join(case for case, n in runs.items() if n == 3))
PY
)
  if [ ${#cases[@]} -gt 0 ]; then
    .venv/bin/toolweave eval "$suite" --limit "${size[$suite]}" --seed 0 "${cases[@]}" \
      --replay "$out/record" --pace 0.4,80 "${strategies[@]}" --out "$out/replay"
  fi
done
