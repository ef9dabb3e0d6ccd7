# EDGAR ingestion (backend/filings, tools/edgar). Included by the Makefile.

.PHONY: bench-ingest

BENCH_INGEST_ARGS ?=

bench-ingest: venv apt ## A synthetic 13F quarter through the EDGAR stand-in, 1 and 2 workers, PostgreSQL
	$(BIN)/python -m fakeedgar.bench $(BENCH_INGEST_ARGS)
