# One command per job; CI runs `make check` (see .ci/run).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The official Drift SDK the golden-vector tests compare with (tests/sdk/package-lock.json).
SDK_STAMP := tests/sdk/node_modules/.installed
# The real nats CLI the README's "nats CLI" commands are tested with (tests/test_nats_cli.py).
GO              ?= go
NATSCLI_VERSION := v0.5.0
NATSCLI         := .tools/bin/nats

.PHONY: install up test lint types check clean

# (Re)install when pyproject.toml changes; editable, with the dev tools. The browser
# tests drive Debian's chromium (Playwright's own browser download is not used); the
# network-namespace harness (tests/netns) needs nft and ip.
$(STAMP): pyproject.toml
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	command -v nft >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables; }
	command -v ip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2; }
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

# Built once into the project's own .tools/bin (never $GOPATH/bin); rebuilt only when
# missing (after a version change: rm -rf .tools). Go 1.26 or later is needed once.
$(NATSCLI):
	command -v $(GO) >/dev/null || { echo "go (1.26 or later, https://go.dev/dl/) is needed to build the nats CLI (natscli $(NATSCLI_VERSION)) into $(NATSCLI)" >&2; exit 1; }
	GOBIN=$(CURDIR)/.tools/bin $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

## install: the venv, the SDK reference and the nats CLI (all also installed on demand)
install: $(STAMP) $(SDK_STAMP) $(NATSCLI)

## up: run the whole pipeline locally (nats-server + localnet), Ctrl-C stops it
up: $(STAMP)
	$(BIN)/drift-stream up

## test: the test suite against a real nats-server and localnet
test: $(STAMP) $(SDK_STAMP) $(NATSCLI)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

## check: lint, types and tests (what CI runs)
check: lint types test

clean:
	rm -rf $(VENV) tests/sdk/node_modules .tools .drift-stream .mypy_cache .ruff_cache .pytest_cache .hypothesis
