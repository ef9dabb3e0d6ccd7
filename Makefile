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
