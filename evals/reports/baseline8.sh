#!/usr/bin/env bash
# Reproduces evals/reports/baseline8/ (issue 10, after plans that begin to loop end at
# their first repeated call of a reused tool, and keyword calls in the plan grammar must
# name every required argument): countries with three strategies, the six suites with
# llmcompiler and react, then the replay (see baseline.sh).
# `baseline8.sh DIR replay` runs only the replay; `baseline8.sh DIR suites`, the suites.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline8}" 2 "${2:-}"
