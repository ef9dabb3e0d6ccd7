# --- Benchmarks ----------------------------------------------------------------------
# Loopback only, bounded in count and time; starts and stops its own PostgreSQL, Redis,
# Stripe stand-in and gunicorn. BENCH_ARGS="--rate 300 --count 2000" to change the load.

.PHONY: bench

bench: venv apt ## Webhook receiver vs dj-stripe's synchronous view: accepted events/s, p50/p99 ack latency
	cd backend && $(BIN)/python -m bench.webhooks $(BENCH_ARGS)
