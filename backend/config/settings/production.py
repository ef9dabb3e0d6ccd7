"""Production: DEBUG off, every secret from the environment, no local stand-ins."""

from config.env import env, require

from .base import *  # noqa: F403
from .base import SIMPLE_JWT

DEBUG = False
SECRET_KEY = require("DJANGO_SECRET_KEY")
STRIPE_SECRET_KEY = require("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = require("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = require("STRIPE_WEBHOOK_SECRET")
JWT_SIGNING_KEY = require("JWT_SIGNING_KEY")
if len(JWT_SIGNING_KEY.encode()) < 32:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "JWT_SIGNING_KEY is shorter than 32 bytes. Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )
# LinkedIn keys: accounts/checks.py refuses to run without them (accounts.E002).
SOCIAL_AUTH_REDIRECT_IS_HTTPS = True
SIMPLE_JWT["SIGNING_KEY"] = JWT_SIGNING_KEY

STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith("sk_live_")
STRIPE_TEST_SECRET_KEY = "" if STRIPE_LIVE_MODE else STRIPE_SECRET_KEY
STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY if STRIPE_LIVE_MODE else ""

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
