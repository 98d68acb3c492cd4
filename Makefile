# Homeward: `make run` and `make test` set up everything they need on a fresh machine.
# Stamps make the second run fast: Python deps reinstall when pyproject.toml or its lock
# (constraints.txt) changes, npm deps when theirs changes, assets when their sources change.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HOMEWARD_INSTANCE_PATH ?= $(CURDIR)/instance
PYTEST_ARGS ?=

.PHONY: bytecode lock system-deps run test test-unit test-integration test-e2e lint js-lint js-test assets setup bench clean fuzz security

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Exactly the versions the tests last passed with (constraints.txt), as package-lock.json does
# for npm: a fresh clone in CI never meets a release nobody has tested. `make lock` moves them.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Resolve pyproject.toml afresh (the newest releases its ranges allow) in a scratch virtualenv and
# write them to constraints.txt; then `make test` to see that they pass before committing it.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[test]'
	{ echo "# Written by \`make lock\` on $$(date -u +%F) from pyproject.toml; installed with pip -c."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .lock-venv

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/dist/.built: node_modules/.installed scripts/build-assets.mjs $(wildcard static/scss/*.scss)
	npm run --silent build
	touch $@

assets: static/dist/.built

setup: $(VENV)/.installed assets

# The app's own modules compiled once up front. Where PYTHONDONTWRITEBYTECODE is set (this
# machine kind sets it), Python compiles every module from source in every process it starts
# and never keeps the result: 0.1-0.25 s more for each `homeward` command, server and test
# subprocess. Existing .pyc files are still read; a changed source is recompiled in memory.
bytecode: setup
	$(BIN)/python -m compileall -q -j 0 webapp sync >/dev/null

run: setup bytecode
	$(BIN)/homeward init-db
	$(BIN)/homeward demo-data
	$(BIN)/homeward vapid-keys --if-missing
	$(BIN)/homeward serve

# Debian's Chromium, nginx, Node.js and npm, and Python's venv when missing: apt-get as root,
# otherwise the exact command to run (scripts/system-deps.sh). First, so setup finds npm.
system-deps:
	@PYTHON=$(PYTHON) scripts/system-deps.sh

# Every test: lint first (cheap, and a red lint is a red build), then unit, integration (SQLite,
# and PostgreSQL for SQL behaviour), fuzz and end-to-end in Chromium behind nginx.
test: system-deps setup bytecode lint js-test security
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: system-deps setup
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# The fuzzers of tests/fuzz with a much larger budget than `make test` gives them (examples per
# target; FUZZ_EXAMPLES=20000 make fuzz for a night). Needs PostgreSQL, where NUL bytes matter.
FUZZ_EXAMPLES ?= 2000
fuzz: setup
	HOMEWARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -n 2 $(PYTEST_ARGS)

# Benchmarks print figures (docs/BENCHMARKS.md); they assert nothing. Needs PostgreSQL and Chromium.
bench: setup
	$(BIN)/python bench/sync_push.py
	$(BIN)/python bench/offline_start.py
	$(BIN)/python bench/reminders_dispatch.py
	$(BIN)/python bench/signin_load.py

lint: setup js-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# ruff's bandit rules, pip-audit over .venv and npm audit over package-lock.json, each against the
# reviewed security-allowlist.toml; an advisory service that cannot be reached fails (retried
# first) unless HOMEWARD_SECURITY_UNREACHABLE=warn (scripts/security_checks.py).
security: setup node_modules/.installed
	$(BIN)/python scripts/security_checks.py

# The browser JS: ESLint, then the JSDoc types checked by tsc (no build, nothing emitted): the
# pages' modules, then the service worker (a worker's globals, not a page's).
js-lint: node_modules/.installed
	node_modules/.bin/eslint .
	node_modules/.bin/tsc -p tsconfig.json
	node_modules/.bin/tsc -p tsconfig.sw.json

# Unit tests of the pure field-client modules (clock, outbox coalescing, validation, router...).
js-test: node_modules/.installed
	node --test tests/js/

clean:
	rm -rf $(VENV) node_modules static/dist
