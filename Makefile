# One command per job. `make test` on a fresh machine creates the virtual
# environment, installs the project with its dev extra, lints and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install test demo lint bench clean chromium softhsm node-tooling screenshots

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

# The HSM tests keep a node's key in a SoftHSM2 token (Debian's softhsm2: PKCS#11
# module /usr/lib/softhsm/libsofthsm2.so and softhsm2-util, which makes the tokens).
softhsm:
	@command -v softhsm2-util >/dev/null 2>&1 || { \
	  echo "installing Debian's softhsm2 for the HSM tests (needs root and apt)"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q softhsm2 >/dev/null; }

# The tests' Node.js tooling (axe-core, for the browser test's accessibility check, and
# oidc-provider, the OpenID Connect provider the sign-in tests run: tests/oidc/provider.mjs),
# installed exactly as package-lock.json pins it; again only when the lockfile (or
# package.json) is newer than the install npm records in node_modules/.package-lock.json.
NODE_TOOLING := node_modules/.package-lock.json

$(NODE_TOOLING): package-lock.json package.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "npm not found: the tests need Node.js and npm to install their tooling from" \
	    "package-lock.json (axe-core, oidc-provider); install them (Debian: apt-get install nodejs npm)," \
	    "then run make test again" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

node-tooling: $(NODE_TOOLING)

test: install chromium softhsm $(NODE_TOOLING)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# The main job: a whole federation on this machine with the real UCDP events.
demo: install
	$(BIN)/clearinghouse demo --keep-running $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The benchmark suite (never part of the test gate); BENCH_ARGS=--quick: ~10 minutes.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Pictures of the analyst's pages for the docs (docs/screenshots/*.png), taken in
# Chromium from a node holding real UCDP events; opt-in, never part of `make test`.
screenshots: install chromium
	$(BIN)/python -m tests.screenshots

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis node_modules
