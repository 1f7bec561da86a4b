# One command per job. `make test` on a fresh machine creates the virtual
# environment, installs the project with its dev extra, lints and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: test demo lint bench clean chromium

$(BIN)/clearinghouse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The browser test drives Debian's Chromium with Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test (needs root and apt)"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }

test: $(BIN)/clearinghouse chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# The main job: a whole federation on this machine with the real UCDP events.
demo: $(BIN)/clearinghouse
	$(BIN)/clearinghouse demo $(DEMO_ARGS)

lint: $(BIN)/clearinghouse
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The benchmark suite (never part of the test gate); BENCH_ARGS=--quick: ~10 minutes.
bench: $(BIN)/clearinghouse
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
