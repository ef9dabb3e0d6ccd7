# --- Faults you can watch ------------------------------------------------------------
# `make chaos` (tools/chaos): `make stack`'s topology (NGINX, gunicorn, Celery worker + beat,
# PostgreSQL, Redis, the Stripe and mail stand-ins), restarted like Compose restarts it, under
# six faults with bursts of signed events and purchases through the API. One line per
# scenario; the report is var/test-results/chaos.json; exit 1 if anything was lost, done twice
# or duplicated. About 5 minutes on 2 cores; needs no SPA. CI runs it after `make test`.
#   CHAOS_ARGS="--scenarios 3 --redis-down 10"   (cd backend && ../.venv/bin/python -m chaos.run --help)

CHAOS_ARGS ?=

.PHONY: chaos

chaos: venv ## Workers, Redis, PostgreSQL, Stripe and the app fail under load: nothing lost, nothing twice
	@scripts/apt-ensure $(APT_STACK)
	@mkdir -p $(RESULTS)
	cd backend && $(BIN)/python -m chaos.run --json $(CURDIR)/$(RESULTS)/chaos.json $(CHAOS_ARGS)
