# Two entry points: `make run` serves the bundled rules, `make test` runs every test.
# Each creates .venv with a Python that durable_rules 2.0.28 supports (3.11 or 3.12).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3,11) <= sys.version_info[:2] <= (3,12))' 2>/dev/null; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test check bench openapi clean venv

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or 3.12 is needed (durable_rules does not import on 3.13)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/dispute-guide serve

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: venv
	$(BIN)/dispute-guide check

bench: venv
	$(BIN)/python bench/engine.py

openapi: venv
	$(BIN)/dispute-guide openapi > openapi.yaml

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
