# API fuzzing: Schemathesis over the live OpenAPI schema (/api/schema/), as a guest, a free and a
# premium user, every check (scripts/fuzz.py). Starts and stops what it needs itself: a throw-away
# SQLite database, the Stripe stand-in and gunicorn on a free port. About two minutes. Included by the
# Makefile; `make test` runs it.
#
#   make fuzz                                    the three roles, 60 s of fuzzing each, side by side
#   make fuzz FUZZ_ARGS="--max-time 300 --seed 1"   longer, or a run again with its seed
#
# Findings accepted on purpose, each with its reason: scripts/fuzz-baseline.json (anything else fails).
# Report: var/test-results/fuzz.json ({"passed", "failed", "skipped"}, one case per role and operation),
# Schemathesis' own reports in var/test-results/fuzz/<role>/; last line "fuzz: N passed, N failed".

FUZZ_ARGS ?=

.PHONY: fuzz

fuzz: venv ## API fuzzing (Schemathesis) of the live schema as guest, free and premium (~2 min)
	$(BIN)/python scripts/fuzz.py $(FUZZ_ARGS)
