# `make stack`: the production topology without Docker (tools/devstack/devstack/stack.py).
# NGINX (nginx/templates) -> gunicorn (config/gunicorn.py, production settings + the offline
# stand-ins: config.settings.stack) + Celery worker and beat, PostgreSQL, Redis; all from
# Debian packages on free loopback ports. Included by the Makefile.
#   STACK_ARGS="--port 8080 --ready-file var/stack/ready.json"   (see --help)

APT_STACK := nginx redis-server postgresql

.PHONY: stack stack-smoke

stack: venv frontend-build ## Production topology without Docker: NGINX + gunicorn + Celery + PostgreSQL + Redis, Stripe/LinkedIn stand-ins
	@scripts/apt-ensure $(APT_STACK)
	cd backend && $(BIN)/python -m devstack.stack $(STACK_ARGS)

stack-smoke: venv frontend-build ## Start `make stack`, check the SPA, API, static, webhooks through NGINX, stop
	@scripts/apt-ensure $(APT_STACK)
	cd backend && $(BIN)/python -m devstack.stack --smoke $(STACK_ARGS)
