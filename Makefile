# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Run from the checkout, airflow-sc keeps its home (SQLite file, logs, keys) here.
export AIRFLOW_SC_HOME ?= $(CURDIR)/.airflow-sc

.PHONY: run test lint type unit browser bench bench-quick clean

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

# The UI's browser tests need Debian's chromium: installed here when missing (as root).
browser:
	sh tests/ui/install_browser.sh

unit: $(VENV)/.installed-dev browser
	$(BIN)/pytest

test: lint type unit

# The workloads of WORKLOADS.md (W1, W2, W3, W1a, W2a) x {SQLite, PostgreSQL} x {asyncio,
# trio}, 3 runs each, then the database ceiling, API latency with and without W1 running,
# the API under load (100 clients and a 40-task chain, 3 runs per database) and the
# component benchmarks. Results: benchmarks/results/*.json; docs/performance.md.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.workloads --workload all --database both --backend both --repeat 3
	$(BIN)/python benchmarks/db_ceiling.py
	$(BIN)/python -m benchmarks.api_latency --under W1
	$(BIN)/python -m benchmarks.api_load --repeat 3
	$(BIN)/python benchmarks/scheduler_throughput.py
	$(BIN)/python benchmarks/executor_overhead.py
	$(BIN)/python benchmarks/db_roundtrips.py
	$(BIN)/python benchmarks/dag_parsing.py
	$(BIN)/python benchmarks/secrets_lookups.py
	$(BIN)/python -m benchmarks.ui_pages

# A reduced set in well under two minutes: W2, W2a and a 10-DAG W1 on SQLite and asyncio,
# one run each, and a short database ceiling.
bench-quick: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.workloads --workload W2,W2a,W1 --dags 10 --repeat 1
	$(BIN)/python benchmarks/db_ceiling.py --seconds 1 --connections 1,8 --batch 1
	$(BIN)/python -m benchmarks.ui_pages --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
