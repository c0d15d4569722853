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
	@echo "== seed 001: 20 sequences of 10 flips, 3 coins (the MLE merges the coins: the data are under-dispersed)"
	$(BIN)/mixfit fit examples/three_coins.csv --family binomial --trials 10 -k 3 --seed 0
	@echo "== seed 000's two coins (p(Z=1) = 0.75, biases 0.2 and 0.9), flipped 10 times per draw"
	$(BIN)/mixfit fit examples/two_coins.csv --family binomial --trials 10 -k 2 --seed 0
	@echo "== latent class analysis: 1500 people, 8 yes/no items, 3 classes"
	$(BIN)/mixfit fit examples/survey.csv --family bernoulli -k 3 --n-init 5 --seed 0 --out survey-model.json
	@echo "model written to survey-model.json"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_em.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis survey-model.json
