#!/usr/bin/env bash
# Reproduces evals/reports/baseline5/ (issue 10, after the lazy grammar, prompt-lookup
# drafts and the joiner that continues the planner's conversation): countries with three
# strategies, the six suites with llmcompiler and react (see baseline.sh).
# `baseline5.sh DIR replay` runs only the replay.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline5}" 2 "${2:-}"
