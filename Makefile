# One command per job. `make test` on a fresh machine creates the virtual
# environment, installs the project with its dev extra, lints and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install test demo lint bench clean chromium

# A strict editable install: node/, protocol/ and analyzers/ are linked, file by
# file, under the one import namespace clearinghouse.* (build/__editable__*), so
# the checkout's folders are never imported under a second name. A module added
# or removed needs a re-link, which `make` does when the list of files changes.
MODULES := $(VENV)/modules.txt

$(BIN)/clearinghouse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=strict
	find node protocol analyzers -type f ! -path '*/__pycache__/*' | sort > $(MODULES)
	touch $@

install: $(BIN)/clearinghouse
	@find node protocol analyzers -type f ! -path '*/__pycache__/*' | sort > $(MODULES).now
	@if ! cmp -s $(MODULES).now $(MODULES); then \
	  echo "modules added or removed: re-linking the editable install"; \
	  $(BIN)/pip install --quiet --no-deps -e . --config-settings editable_mode=strict; \
	  mv $(MODULES).now $(MODULES); \
	else rm $(MODULES).now; fi

# The browser test drives Debian's Chromium with Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test (needs root and apt)"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }

test: install chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# The main job: a whole federation on this machine with the real UCDP events.
demo: install
	$(BIN)/clearinghouse demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The benchmark suite (never part of the test gate); BENCH_ARGS=--quick: ~10 minutes.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
