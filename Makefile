# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Run from the checkout, airflow-sc keeps its home (SQLite file, logs, keys) here.
export AIRFLOW_SC_HOME ?= $(CURDIR)/.airflow-sc

.PHONY: run test lint type unit bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The example DAGs are loaded unless AIRFLOW_SC__CORE__LOAD_EXAMPLES says otherwise.
run: $(VENV)/.installed-dev
	AIRFLOW_SC__CORE__LOAD_EXAMPLES=$${AIRFLOW_SC__CORE__LOAD_EXAMPLES:-true} $(BIN)/airflow-sc run

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

type: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint type unit

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/db_roundtrips.py
	$(BIN)/python benchmarks/dag_parsing.py
	$(BIN)/python benchmarks/secrets_lookups.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
