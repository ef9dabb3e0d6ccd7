"""Production: DEBUG off, every secret from the environment, no local stand-ins.

Runs behind the NGINX of nginx/ (``TRUSTED_PROXIES``: its address; loopback by default), on
PostgreSQL and Redis, with gunicorn (config/gunicorn.py) and Celery worker + beat. A missing
secret or service URL stops start-up with a sentence naming it; the dev stand-ins are refused
by billing/checks.py and accounts/checks.py (DEVTOOLS_ALLOWED stays False). Logs are one JSON
object a line on stderr, with secrets redacted (config/jsonlog.py).
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.checks import GENERATE_HINT, secret_key_problem
from config.env import env, require

from .base import *  # noqa: F403
from .base import SIMPLE_JWT, SITE_URL

DEBUG = False
DEVTOOLS_ALLOWED = False
SERVE_SPA = False

SECRET_KEY = require("DJANGO_SECRET_KEY")
# It signs sessions, CSRF tokens and password-reset links: a weak one stops start-up.
if (_weakness := secret_key_problem(SECRET_KEY)) is not None:
    raise ImproperlyConfigured(f"DJANGO_SECRET_KEY {_weakness}. {GENERATE_HINT}")
STRIPE_SECRET_KEY = require("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = require("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = require("STRIPE_WEBHOOK_SECRET")
JWT_SIGNING_KEY = require("JWT_SIGNING_KEY")
if len(JWT_SIGNING_KEY.encode()) < 32:
    raise ImproperlyConfigured(
        "JWT_SIGNING_KEY is shorter than 32 bytes. Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )
# LinkedIn keys: accounts/checks.py refuses to run without them (accounts.E002).
SOCIAL_AUTH_REDIRECT_IS_HTTPS = True
SIMPLE_JWT["SIGNING_KEY"] = JWT_SIGNING_KEY

# Services: several processes (gunicorn workers, Celery worker and beat) share them, so the
# embedded defaults of `make run` (SQLite under var/, a filesystem broker) cannot work here.
# base.py has already built DATABASES, CACHES and the broker from these variables.
require("DATABASE_URL")
require("REDIS_URL")

STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith("sk_live_")
STRIPE_TEST_SECRET_KEY = "" if STRIPE_LIVE_MODE else STRIPE_SECRET_KEY
STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY if STRIPE_LIVE_MODE else ""

# --- Hosts and the proxy in front -------------------------------------------------------
# Comma-separated, e.g. "opensecdata.example,www.opensecdata.example".
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is not set. Set it to the site's host name(s), comma-separated."
    )
# The SPA is same-origin, so only other origins that POST here need listing (https://...).
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    default=[SITE_URL] if SITE_URL.startswith("https://") else [],
)
# NGINX appends the peer's address to X-Forwarded-For; Django believes that header only when
# the request comes from one of these addresses (quotas/client_ip.py). Default: NGINX on the
# same host (make stack); docker-compose.yml sets the network NGINX reaches gunicorn on.
# (Empty counts as unset: trusting nobody here would count every client as NGINX itself.)
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[]) or ["127.0.0.1", "::1"]
# NGINX sets X-Forwarded-Proto (nginx/templates/default.conf.template) and never passes the
# client's own, so Django may trust it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False

# --- HTTPS ------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Static files -----------------------------------------------------------------------
# `collectstatic` runs in the image build (backend/Dockerfile); NGINX serves the folder
# from a volume at /static/.
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(STATIC_ROOT)))

# --- Celery -----------------------------------------------------------------------------
# The worker logs through LOGGING below (JSON), not Celery's own plain-text root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)

# --- E-mail (billing's receipts and payment notices) --------------------------------------
# base.py reads EMAIL_HOST, EMAIL_PORT (587), EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and
# DEFAULT_FROM_EMAIL from the environment; STARTTLS is on here unless EMAIL_USE_TLS=false (a
# relay on the same host). `check --deploy` warns while EMAIL_HOST or a real sender is missing,
# and when a password would cross the network without TLS (billing/checks.py).
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS") if env.str("EMAIL_USE_TLS", default="") else True

# --- Logs: one JSON object a line on stderr, secrets redacted -----------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.jsonlog.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # stripe-python logs request lines (with ids) at INFO; warnings are enough here.
        "stripe": {"level": "WARNING"},
        # Disallowed hosts are scanners; one line each at ERROR would page someone.
        "django.security.DisallowedHost": {"level": "WARNING"},
    },
}
