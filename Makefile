# One command each: `make demo` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint demo bench install-check clean

setup: $(STAMP)

# The lock pins every package, so pip resolves nothing (about a minute on a fresh machine).
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks scripts)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks scripts)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/artreg demo $(DEMO_DIR)

# A fresh venv with `pip install .` (no dev extra), then with the torch extra: a working CLI.
install-check:
	bash scripts/install_check.sh

# MLflow lives in its own environment, used only by the benchmarks (pair 14): its dependencies
# never meet artreg's.
MLFLOW_VENV := benchmarks/.venv-mlflow
$(MLFLOW_VENV)/.installed: benchmarks/mlflow.lock
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r benchmarks/mlflow.lock
	touch $@

bench: $(STAMP) $(MLFLOW_VENV)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) .pytest_cache .ruff_cache
