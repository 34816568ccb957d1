# Two entry points: `make run` serves the bundled rules, `make test` runs every test.
# Each creates .venv with the newest supported Python found (3.13, 3.12 or 3.11, on PATH or
# installed by pyenv); `make test PYTHON=python3.11` picks one.
SHELL := /bin/bash
PYTHON ?=
PY := $(shell .ci/pythons $(PYTHON) | head -n 1)
PYVER := $(if $(PY),$(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'))
VENV := .venv
BIN := $(VENV)/bin
# durable_rules 2.0.28 is an sdist with a C extension; on Python 3.13 it compiles once its
# one removed C API call is mapped to its replacement (harmless on 3.11 and 3.12).
DURABLE_RULES_CPPFLAGS := -DPyEval_CallObject=PyObject_CallObject
PIP := CPPFLAGS="$(DURABLE_RULES_CPPFLAGS)" $(BIN)/python -m pip install --quiet
PYTEST_ARGS ?=

.PHONY: run test test-fast lint check bench openapi clean venv venv-run dist

# A .venv made with another Python is replaced.
$(VENV)/.python-$(PYVER):
	@test -n "$(PY)" || { echo "Python 3.11, 3.12 or 3.13 is needed$(if $(PYTHON), ($(PYTHON) does not run or is not one of them))"; exit 1; }
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

# Serving and the command line only.
$(VENV)/.run-$(PYVER): $(VENV)/.python-$(PYVER) pyproject.toml
	$(PIP) -e .
	touch $@

# Everything the tests use, the batch report's matplotlib included.
$(VENV)/.test-$(PYVER): $(VENV)/.python-$(PYVER) pyproject.toml
	$(PIP) -e '.[test]'
	touch $@ $(VENV)/.run-$(PYVER)

venv: $(VENV)/.test-$(PYVER)
venv-run: $(VENV)/.run-$(PYVER)

run: venv-run
	$(BIN)/dispute-guide serve

# Lint, format and types first (the same as .pre-commit-config.yaml), then every test, with
# the coverage of service/ and schemas/ printed at the end.
test: lint
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The in-process tests only (no gunicorn, no browser, no wheel build): a minute or two.
test-fast: venv
	$(BIN)/python -m pytest -q -m "not server and not wheel" --ignore=tests/e2e \
	  --deselect "tests/test_scale.py::test_every_case_evaluates_and_matches_the_python_compilation[5000]" \
	  --deselect "tests/test_scale.py::test_each_engine_ruleset_stays_within_the_stack_budget[5000]" \
	  $(PYTEST_ARGS)

check: venv-run
	$(BIN)/dispute-guide check

bench: venv
	$(BIN)/python bench/engine.py

openapi: venv-run
	$(BIN)/dispute-guide openapi > openapi.yaml

# The wheel and the sdist, in dist/.
dist: venv
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info build dist
