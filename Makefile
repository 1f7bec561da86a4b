# One command per job. `make test` on a fresh machine creates the virtual
# environment, installs the project with its dev extra, lints and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: test lint bench clean

$(BIN)/clearinghouse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

test: $(BIN)/clearinghouse
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(BIN)/clearinghouse
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/clearinghouse
	$(BIN)/python -m bench.protocol

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
