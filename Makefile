# Compute Spread — one entry point for newcomers and CI.
# `make demo` and `make test` bootstrap what is missing (a .venv with the locked Python
# dependencies, node_modules with the pinned anvil), idempotently, then run.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup browser postgres test test-unit test-integration lint fuzz bench demo clean methodology methodology-check abis margins

setup: $(VENV)/.installed node_modules/.installed .build/.compiled

# compile once up front so parallel test workers never race on ape's build cache
.build/.compiled: $(VENV)/.installed $(wildcard contracts/*.vy contracts/*/*.vy contracts/*/*.vyi)
	$(VENV)/bin/ape compile >/dev/null
	@touch $@

$(VENV)/.installed: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e '.[dev]'
	@touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# browser tests drive Debian's chromium (Playwright's own browser download is unreachable here)
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

# the relay's store/API/matcher tests also run on PostgreSQL: a throwaway cluster (initdb + postgres
# on a free loopback port, devnet/postgres.py) from Debian's postgresql package
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  APT="$$([ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get"; \
	  $$APT install -y -q postgresql >/dev/null 2>&1 || \
	  { $$APT update -q >/dev/null && $$APT install -y -q postgresql >/dev/null; }; }

test: setup browser postgres lint
	$(PY) -m pytest -n 2 --dist loadfile tests

test-unit: setup postgres
	$(PY) -m pytest -n 2 tests/unit tests/fuzz

# ruff (rules and format, config in pyproject.toml) and the import-linter architecture contracts;
# the same three checks run as pre-commit hooks (.pre-commit-config.yaml)
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

fuzz: setup
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest -s tests/fuzz

bench: setup
	$(PY) -m scripts.bench

# the generated tables of docs/methodology.md (peak blocks, exactness, GPU moves and attacks, mark errors)
methodology: setup
	$(PY) -m scripts.methodology --write

methodology-check: setup
	$(PY) -m scripts.methodology --check

# margin backtest on the real data: the generated tables of docs/markets.md and the per-side
# proposal markets/margins.json (scripts/margins.py; values every contract daily, ~10 min)
margins: setup
	$(PY) -m scripts.margins --write

# the contracts' ABIs that ship in core/abis (core.abi types structs and events from them);
# rerun after changing a contract's interface (tests/unit/core/test_core_abi.py fails until then)
abis: setup
	$(PY) -m scripts.abis --write

# SERVE=1 keeps the settled devnet and its dashboard up after the scenario, until Ctrl-C
demo: setup
	DEMO_SERVE=$(SERVE) $(PY) -m scripts.demo

clean:
	rm -rf $(VENV) node_modules .build
