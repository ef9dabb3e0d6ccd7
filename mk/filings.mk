# SEC 13F data. Included by the Makefile.

.PHONY: load-13f test-filings

load-13f: venv ## Load the demo 13F filings into the dev database (idempotent); FILES=... loads others
	cd backend && $(BIN)/python manage.py load_13f $(if $(FILES),$(FILES),--demo)

test-filings: venv ## Only the 13F data and quota tests (parser, loader, APIs, quotas)
	cd backend && $(BIN)/python -m devstack.services --redis -- $(BIN)/python -m pytest -p no:cacheprovider -q filings quotas $(PYTEST_ARGS)
