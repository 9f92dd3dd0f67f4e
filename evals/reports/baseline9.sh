#!/usr/bin/env bash
# Reproduces evals/reports/baseline9/suites/ (issue 10, after simulated values stopped
# echoing the call's arguments and the continued joiner reads a call of over 64
# characters as tool(...)): the six suites with llmcompiler and react, then the replay
# (see baseline.sh). Countries is not rerun: neither change reaches it (its tools are
# real, its calls short); baseline8/countries stands.
exec bash "$(dirname "$0")/baseline.sh" "${1:-evals/reports/baseline9}" 2 suites
