# Open SEC Data: every task starts here. Each target prints what it runs.
# Fresh machine: only python3 (3.11+) is needed; targets bootstrap the rest.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
REQ := backend/requirements
STAMP := $(VENV)/.installed
# The offline tools (tools/*/): installed editable into .venv, importable from anywhere.
TOOLS := tools/fakestripe tools/devstack tools/bench tools/edgar tools/chaos

.PHONY: help venv lock apt run lint format test test-fast test-templates test-backend test-backend-sqlite test-backend-postgres test-tools

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): $(REQ)/base.txt $(REQ)/dev.txt $(addsuffix /pyproject.toml,$(TOOLS))
	@echo "+ creating $(VENV) with the locked dependencies and the tools in tools/"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r $(REQ)/base.txt -r $(REQ)/dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps $(addprefix -e ,$(TOOLS))
	@touch $@

venv: $(STAMP) ## Create .venv: the locked Python dependencies, and tools/* installed editable

lock: ## Re-lock backend/requirements/*.txt from the .in files
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o $(REQ)/base.txt $(REQ)/base.in
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o $(REQ)/dev.txt $(REQ)/dev.in

include mk/bench.mk mk/chaos.mk mk/e2e.mk mk/fakestripe.mk mk/filings.mk mk/frontend.mk mk/fuzz.mk mk/ingest.mk mk/lint-deploy.mk mk/stack.mk

# --- Run ---------------------------------------------------------------------------

APT_TEST := redis-server postgresql nginx chromium

apt: ## Install the Debian packages the tests use (Redis, PostgreSQL, NGINX, Chromium)
	@scripts/apt-ensure $(APT_TEST)

run: venv frontend-build ## The whole product on http://127.0.0.1:PORT (default 8000); offline Stripe unless keys are set
	cd backend && $(BIN)/python -m devstack.run

# --- Quality -----------------------------------------------------------------------

# Installs nothing but the project's own .venv and node_modules; `make apt` brings nginx for
# lint-deploy's `nginx -t` (make test runs it first).
lint: venv frontend-lint lint-deploy ## ruff + mypy (backend, tools), ESLint + Prettier, deploy files
	$(BIN)/ruff check backend tools scripts
	$(BIN)/ruff format --check backend tools scripts
	cd backend && $(BIN)/mypy .
	$(BIN)/mypy --config-file tools/mypy.ini tools/fakestripe/fakestripe tools/devstack/devstack tools/bench/bench tools/edgar/fakeedgar tools/chaos/chaos

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix backend tools scripts && $(BIN)/ruff format backend tools scripts

# --- Tests -------------------------------------------------------------------------
# Every run starts its own Redis and PostgreSQL on free ports and stops them after.

RESULTS := var/test-results
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

test: venv apt ## Everything CI runs: lint, backend on SQLite and PostgreSQL, tools, frontend, browser
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@echo "+ lint; meanwhile the migrated test databases are built ahead (log: $(RESULTS)/templates.log)"
	@$(MAKE) --no-print-directory test-templates > $(RESULTS)/templates.log 2>&1 & templates=$$!; \
	  trap 'kill $$templates 2>/dev/null' INT TERM; \
	  $(MAKE) --no-print-directory lint; lint=$$?; \
	  if wait $$templates; then tail -n 2 $(RESULTS)/templates.log; \
	  else echo "+ building them failed; the suites migrate themselves:"; tail -n 20 $(RESULTS)/templates.log; fi; \
	  exit $$lint
	$(MAKE) --no-print-directory test-backend
	@echo "+ the tools' own tests and the API fuzz, side by side (each one's output when it ends)"
	$(MAKE) --no-print-directory -j2 --output-sync=target test-tools fuzz
	@echo "+ frontend unit tests"
	$(MAKE) --no-print-directory frontend-test
	cp frontend/test-results/vitest.json $(RESULTS)/vitest.json
	@echo "+ browser journey in Chromium against make run's stack"
	$(MAKE) --no-print-directory e2e
	@echo "+ the same journey through NGINX, gunicorn, PostgreSQL, Redis and Celery (make stack)"
	$(MAKE) --no-print-directory e2e-stack
	@echo "+ all runners together:"
	@$(BIN)/python scripts/summarize.py $(RESULTS)

# Side by side: one run keeps about three quarters of a core busy (the rest is waiting for its
# servers and workers), so two take ~7 minutes on 2 cores instead of ~11 one after the other.
# Each has its own VAR_DIR, Redis, stand-ins and test database; make prints a run's output
# when it ends (--output-sync).
test-backend: venv apt ## The backend suite on SQLite and on PostgreSQL side by side (each with a real Redis)
	@echo "+ backend tests on SQLite and on PostgreSQL, side by side (each run's output when it ends)"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-backend-sqlite test-backend-postgres

test-backend-sqlite: venv apt ## The backend suite on SQLite (with Redis)
	@mkdir -p $(RESULTS)
	@echo "+ backend tests on SQLite (with Redis)"
	@mkdir -p var/test-sqlite
	cd backend && VAR_DIR=$(CURDIR)/var/test-sqlite $(BIN)/python -m devstack.services --redis -- $(PYTEST) --create-db --junitxml=../$(RESULTS)/sqlite.xml $(PYTEST_ARGS)

test-backend-postgres: venv apt ## The backend suite on PostgreSQL (with Redis)
	@mkdir -p $(RESULTS)
	@echo "+ backend tests on PostgreSQL (with Redis)"
	@mkdir -p var/test-postgres
	cd backend && VAR_DIR=$(CURDIR)/var/test-postgres $(BIN)/python -m devstack.services --redis --postgres -- $(PYTEST) --create-db --junitxml=../$(RESULTS)/postgres.xml $(PYTEST_ARGS)

test-tools: venv apt ## The tools' own tests: the Stripe and EDGAR stand-ins, the runners (NGINX rendering)
	@mkdir -p $(RESULTS)
	@echo "+ tests of the Stripe stand-in (tools/fakestripe)"
	cd tools/fakestripe && $(PYTEST) --junitxml=$(CURDIR)/$(RESULTS)/fakestripe.xml $(PYTEST_ARGS)
	@echo "+ tests of the runners (tools/devstack)"
	cd tools/devstack && $(PYTEST) --junitxml=$(CURDIR)/$(RESULTS)/devstack.xml $(PYTEST_ARGS)
	@echo "+ tests of the EDGAR stand-in (tools/edgar)"
	cd tools/edgar && $(PYTEST) --junitxml=$(CURDIR)/$(RESULTS)/fakeedgar.xml $(PYTEST_ARGS)
	@echo "+ tests of the chaos runner (tools/chaos; the run itself is \`make chaos\`)"
	cd tools/chaos && $(PYTEST) --junitxml=$(CURDIR)/$(RESULTS)/chaos-tool.xml $(PYTEST_ARGS)

# `migrate` on an empty database is ~80 s of CPU on either engine; the suites, the fuzz run, the
# browser runs and make chaos start from a copy (tools/devstack/devstack/migrated.py).
test-templates: venv apt ## Build the migrated SQLite and PostgreSQL templates (var/cache/migrated/) side by side
	$(BIN)/python -m devstack.migrated & sqlite=$$!; \
	  $(BIN)/python -m devstack.services --postgres -- $(BIN)/python -m devstack.migrated; pg=$$?; \
	  wait $$sqlite && exit $$pg

test-fast: venv apt ## Inner loop: backend on SQLite, reuse the test database, stop at the first failure
	cd backend && $(BIN)/python -m devstack.services --redis -- $(PYTEST) --reuse-db -x -q $(PYTEST_ARGS)
