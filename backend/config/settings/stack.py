"""TEST-ONLY: production settings plus the offline stand-ins, for `make stack` and its e2e runs.

This module exists so the production topology (NGINX → gunicorn → PostgreSQL/Redis, Celery
worker + beat) can be exercised on one machine with no Stripe or LinkedIn account. It is
``config.settings.production`` with exactly these differences, and nothing else:

* ``DEVTOOLS_ALLOWED = True``: the offline Stripe stand-in (``STRIPE_API_HOST``, the dummy
  ``*_offline*`` keys), its same-origin Stripe.js proxy (``/js.stripe.com/v3/``, ``/v1/``) and
  the dev LinkedIn (``/_dev/oidc/``) are accepted and mounted;
* plain http on loopback: ``SECURE_SSL_REDIRECT``, the ``Secure`` cookie flags and
  ``SOCIAL_AUTH_REDIRECT_IS_HTTPS`` are off (there is no TLS here, and a forced https
  redirect_uri could not be reached). HSTS and every other production setting stay;
* ``BILLING_PORTAL_ENABLED`` defaults to on: the stand-in answers portal sessions with a page of
  its own (production's default is off until the portal is configured at Stripe);
* ``DEV_MAILBOX_DIR``: the dev mailbox page (``/_dev/mailbox/``) reads the Maildir of the
  stack's dev mail server, to which ``devstack.stack`` points ``EMAIL_HOST``/``EMAIL_PORT``
  (plain SMTP on loopback; the e-mail settings themselves are production's).

It refuses to load unless ``OPENSEC_STACK_E2E=1`` is in the environment (``devstack.stack``
in tools/devstack sets it for the processes it starts), it refuses live Stripe keys, and
``DEBUG`` is never on.
See docs/deploy.md ("make stack").
"""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

from config.env import env

if os.environ.get("OPENSEC_STACK_E2E") != "1":
    raise ImproperlyConfigured(
        "config.settings.stack is the test-only `make stack` configuration (production plus "
        "the offline stand-ins). It loads only with OPENSEC_STACK_E2E=1; never deploy it. "
        "Use config.settings.production."
    )

from .production import *  # noqa: F403
from .production import STRIPE_PUBLISHABLE_KEY, STRIPE_SECRET_KEY, VAR_DIR

if STRIPE_SECRET_KEY.startswith("sk_live_") or STRIPE_PUBLISHABLE_KEY.startswith("pk_live_"):
    raise ImproperlyConfigured(
        "config.settings.stack refuses live Stripe keys: it allows the dev stand-ins."
    )

DEBUG = False
DEVTOOLS_ALLOWED = True
# The stand-ins' Django glue (dev LinkedIn provider, Stripe.js proxy): its templates and urls.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

# No TLS on loopback (see the docstring). Everything else stays as in production.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SOCIAL_AUTH_REDIRECT_IS_HTTPS = False

# dj-stripe warns that STRIPE_API_HOST is set "in production": here it is the stand-in, on
# purpose (billing/checks.py still refuses it wherever DEVTOOLS_ALLOWED is off).
SILENCED_SYSTEM_CHECKS = ["djstripe.W002"]

# The Stripe.js stand-in is served same-origin through Django's dev proxy.
STRIPE_JS_URL = "/js.stripe.com/v3/"

# The stand-in serves a customer portal page of its own (production's default is off).
BILLING_PORTAL_ENABLED = env.bool("BILLING_PORTAL_ENABLED", default=True)

# The dev mailbox page (/_dev/mailbox/) reads the Maildir of the stack's dev mail server.
DEV_MAILBOX_DIR = env.str("DEV_MAILBOX_DIR", default=str(VAR_DIR / "mailbox"))

if not os.environ.get("OPENSEC_STACK_QUIET"):
    print(
        "!! config.settings.stack: TEST-ONLY settings (production + offline Stripe and LinkedIn "
        f"stand-ins, plain http), pid {os.getpid()}. Never deploy this.",
        file=sys.stderr,
        flush=True,
    )
