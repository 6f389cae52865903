# One command per job; CI runs `make check` (see .ci/run).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The official Drift SDK the golden-vector tests compare with (tests/sdk/package-lock.json).
SDK_STAMP := tests/sdk/node_modules/.installed

.PHONY: install up test lint types check clean

# (Re)install when pyproject.toml changes; editable, with the dev tools. The browser
# tests drive Debian's chromium (Playwright's own browser download is not used).
$(STAMP): pyproject.toml
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	touch $(STAMP)

# (Re)install the SDK reference when its lock file changes; Node 20 and npm are needed.
# No install scripts: they only build optional native speed-ups (bigint-buffer, ws).
$(SDK_STAMP): tests/sdk/package.json tests/sdk/package-lock.json
	command -v npm >/dev/null || { echo "npm (Node 20) is needed for the SDK reference tests" >&2; exit 1; }
	npm ci --prefix tests/sdk --no-audit --no-fund --ignore-scripts
	touch $(SDK_STAMP)

## install: the venv and the SDK reference (both also installed on demand)
install: $(STAMP) $(SDK_STAMP)

## up: run the whole pipeline locally (nats-server + localnet), Ctrl-C stops it
up: $(STAMP)
	$(BIN)/drift-stream up

## test: the test suite against a real nats-server and localnet
test: $(STAMP) $(SDK_STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

## check: lint, types and tests (what CI runs)
check: lint types test

clean:
	rm -rf $(VENV) tests/sdk/node_modules .drift-stream .mypy_cache .ruff_cache .pytest_cache .hypothesis
