#!/usr/bin/env bash
# Reproduces evals/reports/baseline/: the local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M,
# CPU), seed 0, simulated tools at 0.3 s median latency, a seeded sample of each suite,
# each case run with llmcompiler, react and parallel-fc (emulated by a JSON prompt on the
# local model). An interrupted run resumes: rerun the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=evals/reports/baseline
for spec in parallelqa:6 movie:4 hotpotqa:4 autotools:6 restbench:4 shortcutsbench:6 workflowllm:2; do
  .venv/bin/toolweave eval "${spec%%:*}" --limit "${spec##*:}" --seed 0 --model local \
    --strategy llmcompiler --strategy react --strategy parallel-fc --out "$out"
done
