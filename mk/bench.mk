# --- Benchmarks ----------------------------------------------------------------------
# Loopback only, bounded in count and time; starts and stops its own PostgreSQL, Redis,
# Stripe stand-in, gunicorn, Celery worker, `make run` and `make stack` (the last only if the
# SPA is built). About 5 minutes. BENCH_ARGS="--phases throughput --seconds 15" to change it
# (python -m bench.webhooks --help, from backend/).

.PHONY: bench

bench: venv apt ## The webhook receiver at saturation vs dj-stripe's view, webhook -> entitlement, Stripe calls per purchase
	cd backend && $(BIN)/python -m bench.webhooks $(BENCH_ARGS)
