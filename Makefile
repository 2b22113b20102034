# Quick start: `make demo` (set up, validate and decide the bundled example orders) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast lint validate bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve,lint,browser,cluster]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/aturan validate rulesets
	$(BIN)/aturan decide examples/orders.jsonl

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  # the quick loop: everything but the tests marked slow (under a minute)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)  # ruff, the import contracts (layers, no cycles), the type checker
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/aturan validate rulesets

docs: $(STAMP)
	$(BIN)/python -m aturan.docgen

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
