# Quickstart on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
# `make test-all` (what CI runs) is `make lint`, `make test`, then the slow fault-injection,
# Dask-cluster and browser tests; it installs Debian's chromium for the browser test when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet
PYTEST := $(BIN)/python -m pytest -q
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-all browser lint bench bench-import clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# The demo needs only the core and matplotlib (figures and reports).
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[plots]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[test]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/mixfit demo --out demo-output
	$(BIN)/mixfit fit examples/geyser.csv --family gaussian -k 2 --seed 0 \
		--out demo-output/geyser-model.json --report demo-output/geyser-report.html
	$(BIN)/mixfit fit examples/visits.csv --family poisson -k 3 --seed 0 \
		--out demo-output/visits-model.json --report demo-output/visits-report.html
	@echo "figures, reports and a model file are in demo-output/; run mixfit yourself as .venv/bin/mixfit"

# The fast suite: every module, without the tests marked slow or browser.
test: $(VENV)/.test-installed
	$(PYTEST) -m "not slow and not browser"

test-all: lint test browser
	$(PYTEST) -m "slow or browser"

# Debian's chromium for the browser test, installed when missing and this user may install it.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium for the browser test"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "the browser test needs $(CHROMIUM): run 'sudo apt-get install chromium'"; exit 1; \
		fi; \
	fi

# Style (ruff), types (mypy) and the layer contract of docs/architecture.md (import-linter).
lint: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m ruff format --check src tests benchmarks
	$(BIN)/python -m mypy
	$(BIN)/lint-imports

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/bench_em.py

bench-import: $(VENV)/.demo-installed
	$(BIN)/python benchmarks/bench_import.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis demo-output test-artifacts
