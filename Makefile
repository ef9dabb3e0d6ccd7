# Open SEC Data: every task starts here. Each target prints what it runs.
# Fresh machine: only python3 (3.11+) is needed; targets bootstrap the rest.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
REQ := backend/requirements
STAMP := $(VENV)/.installed

.PHONY: help venv apt-test run test lint lock

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): $(REQ)/base.txt $(REQ)/dev.txt
	@echo "+ creating $(VENV) with the locked dependencies"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r $(REQ)/base.txt -r $(REQ)/dev.txt
	@touch $@

venv: $(STAMP) ## Create .venv with the locked Python dependencies

lock: ## Re-lock backend/requirements/*.txt from the .in files
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o $(REQ)/base.txt $(REQ)/base.in
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o $(REQ)/dev.txt $(REQ)/dev.in

-include mk/*.mk

# --- Run ---------------------------------------------------------------------------

APT_TEST := redis-server postgresql nginx chromium

apt: ## Install the Debian packages the tests use (Redis, PostgreSQL, NGINX, Chromium)
	@scripts/apt-ensure $(APT_TEST)

run: venv frontend-build ## The whole product on http://127.0.0.1:PORT (default 8000); offline Stripe unless keys are set
	cd backend && $(BIN)/python -m devtools.run

# --- Quality -----------------------------------------------------------------------

lint: venv frontend-lint lint-deploy ## ruff + mypy (backend), ESLint + Prettier, deploy files
	cd backend && $(BIN)/ruff check .
	cd backend && $(BIN)/ruff format --check .
	cd backend && $(BIN)/mypy .

format: venv ## Apply ruff's fixes and formatting
	cd backend && $(BIN)/ruff check --fix . && $(BIN)/ruff format .

# --- Tests -------------------------------------------------------------------------
# Every run starts its own Redis and PostgreSQL on free ports and stops them after.

RESULTS := var/test-results
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

test: venv apt lint ## Everything CI runs: lint, backend on SQLite and PostgreSQL, frontend, browser
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@echo "+ backend tests on SQLite (with Redis)"
	cd backend && $(BIN)/python -m devtools.services --redis -- $(PYTEST) --create-db --junitxml=../$(RESULTS)/sqlite.xml $(PYTEST_ARGS)
	@echo "+ backend tests on PostgreSQL (with Redis)"
	cd backend && $(BIN)/python -m devtools.services --redis --postgres -- $(PYTEST) --create-db --junitxml=../$(RESULTS)/postgres.xml $(PYTEST_ARGS)
	@echo "+ frontend unit tests"
	$(MAKE) --no-print-directory frontend-test
	cp frontend/test-results/vitest.json $(RESULTS)/vitest.json
	@echo "+ browser journey in Chromium against make run's stack"
	$(MAKE) --no-print-directory e2e
	@echo "+ the same journey through NGINX, gunicorn, PostgreSQL, Redis and Celery (make stack)"
	$(MAKE) --no-print-directory e2e-stack
	@echo "+ all runners together:"
	@$(BIN)/python scripts/summarize.py $(RESULTS)

test-fast: venv apt ## Inner loop: SQLite, reuse the test database, stop at the first failure
	cd backend && $(BIN)/python -m devtools.services --redis -- $(PYTEST) --reuse-db -x -q $(PYTEST_ARGS)
