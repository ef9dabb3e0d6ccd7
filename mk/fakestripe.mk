# The offline Stripe stand-in (tools/fakestripe, installed editable into .venv). Included by the Makefile.

.PHONY: fakestripe test-fakestripe

fakestripe: venv ## Only the offline Stripe stand-in, in the foreground (PORT=0 picks a free port; state in var/fakestripe)
	$(BIN)/python -m fakestripe --port $${PORT:-0} --state-dir $(CURDIR)/var/fakestripe --verbose

test-fakestripe: venv ## Tests of the Stripe stand-in (stripe-python against it; Chromium ones skip without chromium)
	cd tools/fakestripe && $(BIN)/python -m pytest -p no:cacheprovider -q $(PYTEST_ARGS)
