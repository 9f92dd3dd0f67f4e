#!/usr/bin/env bash
# Reproduces evals/reports/baseline6/ (issue 10, after the joiner's first Action line
# wins, results shown without their calls after the plan, and the numbered plan grammar):
# countries with three strategies, the six suites with llmcompiler and react (see
# baseline.sh). `baseline6.sh DIR replay` runs only the replay.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline6}" 2 "${2:-}"
