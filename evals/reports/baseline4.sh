#!/usr/bin/env bash
# Reproduces evals/reports/baseline4/ (issue 10's baseline on the merged model side):
# countries and the six suites with all three strategies (see baseline.sh).
# `baseline4.sh DIR replay` runs only the replay.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline4}" 3 "${2:-}"
