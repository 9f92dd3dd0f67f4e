#!/usr/bin/env bash
# Reproduces evals/reports/baseline9/suites/ (issue 10: simulated values no longer echo
# the call's arguments; the continued joiner reads a call of over 64 characters as
# tool(...); an optional argument written as None is left out; a plan's thought ends
# within 400 characters): the six suites with llmcompiler and react, then the replay
# (see baseline.sh). Countries is not rerun here: its tools are real and its calls
# short, so none of this reaches it (baseline9/countries-llmcompiler checks that).
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline9}" 2 suites
