# Quick start: `make demo` (set up, validate and decide the bundled example orders) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test validate bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/aturan validate rulesets
	$(BIN)/aturan decide examples/orders.jsonl

test: $(STAMP)
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/aturan validate rulesets

docs: $(STAMP)
	$(BIN)/python -m aturan.docgen

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
