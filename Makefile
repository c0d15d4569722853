# Quickstart on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/mixfit demo --out demo-output
	$(BIN)/mixfit fit examples/survey.csv --family bernoulli -k 3 --n-init 5 --seed 0 \
		--out demo-output/survey-model.json --report demo-output/survey-report.html
	@echo "figures, reports and a model file are in demo-output/"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_em.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis demo-output test-artifacts
