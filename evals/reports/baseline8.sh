#!/usr/bin/env bash
# Reproduces evals/reports/baseline8/ (issue 10, after plans that begin to loop end at
# their first repeated call, and keyword calls in the plan grammar must name every
# required argument): the six suites with llmcompiler and react, then their replay
# (see baseline.sh). countries was not rerun: its plans have no repeats and no missing
# argument (baseline7). `baseline8.sh DIR replay` runs only the replay.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline8}" 2 "${2:-suites}"
