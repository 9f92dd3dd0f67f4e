#!/usr/bin/env bash
# Reproduces evals/reports/baseline7/ (issue 10, after the joiner's grammar while a
# replan is left, and the converged plan's value shown to the joiner in place of its
# results): countries with three strategies, the six suites with llmcompiler and react
# (see baseline.sh). `baseline7.sh DIR replay` runs only the replay.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline7}" 2 "${2:-}"
