# Quick start: `make run` (serve a demo on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIND ?= 127.0.0.1:8000
BIN := $(VENV)/bin

.PHONY: run test lint lock audit changelog bench load clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt setup.cfg pyproject.toml
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

$(VENV)/.bench: $(VENV)/.dev bench/requirements.txt
	$(BIN)/pip install -q -r bench/requirements.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(BIN)/files-service init
	$(BIN)/files-service demo
	$(BIN)/files-service serve --bind $(BIND)

test: install-dev
	$(BIN)/pytest

# ruff over everything, mypy (strict, setup.cfg) over the package and bench/.
lint: install-dev
	$(BIN)/ruff check files_service tests bench
	$(BIN)/mypy

# Benchmarks against the baselines, in one run (under 10 minutes): bench/results.json,
# docs/benchmarks.md and bench/downloads.png. BENCH_ARGS="--only downloads" for one family.
bench: $(VENV)/.bench
	$(BIN)/python bench/run.py --profile $(BENCH_ARGS)

# The full 60 s mixed load (the test suite runs the same for 10 s); figures in var/.
load: install-dev
	FILES_TEST_LOAD_SECONDS=60 FILES_TEST_LOAD_OUT=var/load-results.json \
	  $(BIN)/pytest tests/load -q -s

# Known vulnerabilities in the production lock (needs PyPI's JSON API or OSV to be reachable).
audit: install-dev
	$(BIN)/pip install -q pip-audit==2.10.1
	$(BIN)/pip-audit --strict -r requirements.lock

# CHANGELOG.md is generated from the version change objects (a test fails while it is stale).
changelog: install
	$(BIN)/python -m files_service.versioning CHANGELOG.md

# The production lock: every dependency of requirements.txt, pinned with hashes.
lock: install-dev
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-header \
	  --no-emit-index-url --no-emit-find-links -o requirements.lock requirements.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
