# Browser end-to-end tests: the SPA in Debian's Chromium (Playwright) against the real backend, the
# offline Stripe stand-in and the dev LinkedIn stand-in. frontend/e2e/README.md says what they cover.
#
#   make e2e                                   start `make run`'s stack on a free port with a throw-away
#                                              VAR_DIR (API_QUOTA_GUEST=5), test, stop it
#   make e2e E2E_BASE_URL=http://127.0.0.1:8080   test a stack that is already running (e.g. NGINX)
#   make e2e E2E_ARGS='-g "3-D Secure"'        extra arguments for `playwright test`
#
# Report: var/test-results/e2e.json (numPassedTests, numFailedTests, numPendingTests); last line
# "e2e: N passed, N failed, N skipped". Screenshots: docs/screenshots/*.png.

E2E_BASE_URL ?=
E2E_ARGS ?=

.PHONY: e2e e2e-deps

e2e-deps: venv frontend-install ## Chromium (Debian), the venv and the frontend's packages for `make e2e`
	@scripts/apt-ensure chromium

e2e: e2e-deps $(if $(E2E_BASE_URL),,frontend-build) ## Browser end-to-end tests in Chromium; E2E_BASE_URL=... to test a running stack
	cd $(FRONTEND) && E2E_BASE_URL='$(E2E_BASE_URL)' E2E_PYTHON='$(BIN)/python' node e2e/run.mjs $(E2E_ARGS)

.PHONY: e2e-stack

e2e-stack: e2e-deps frontend-build ## The same browser journey through NGINX -> gunicorn -> PostgreSQL/Redis -> Celery (make stack)
	@scripts/apt-ensure $(APT_STACK)
	cd $(FRONTEND) && E2E_STACK=stack E2E_REPORT=var/test-results/e2e-stack.json E2E_PYTHON='$(BIN)/python' node e2e/run.mjs $(E2E_ARGS)

.PHONY: screenshots

screenshots: e2e-deps frontend-build ## Retake docs/screenshots/*.png (purchase and account pages, desktop and phone; the account page with card, invoices and a failed renewal)
	cd $(FRONTEND) && E2E_SCREENSHOTS_DIR='$(CURDIR)/docs/screenshots' E2E_REPORT=var/test-results/screenshots.json E2E_PYTHON='$(BIN)/python' node e2e/run.mjs e2e/screenshots.spec.mjs
