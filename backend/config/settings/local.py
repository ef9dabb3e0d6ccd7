"""`make run`: the embedded default. SQLite, the offline Stripe stand-in, DEBUG on.

Every value here can be overridden from the environment or `.env`; setting real
Stripe test keys switches this same configuration to Stripe's test mode.
"""

from config.env import env
from devtools.offline import (
    DEV_OIDC_CLIENT_ID,
    DEV_OIDC_CLIENT_SECRET,
    OFFLINE_STRIPE_PUBLISHABLE_KEY,
    OFFLINE_STRIPE_SECRET_KEY,
    OFFLINE_STRIPE_WEBHOOK_SECRET,
)

from .base import *  # noqa: F403
from .base import (
    SIMPLE_JWT,
    SITE_URL,
    SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY,
    STRIPE_SECRET_KEY,
    VAR_DIR,
)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
DEVTOOLS_ALLOWED = True
# The stand-ins' Django glue (dev LinkedIn provider, Stripe.js proxy): its templates and urls.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
SERVE_SPA = env.bool("SERVE_SPA", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-do-not-deploy")

# Without real Stripe keys: the offline stand-in with its dummy keys (devtools/offline.py).
if not STRIPE_SECRET_KEY:
    STRIPE_SECRET_KEY = OFFLINE_STRIPE_SECRET_KEY
    STRIPE_PUBLISHABLE_KEY = env.str(
        "STRIPE_PUBLISHABLE_KEY", default=OFFLINE_STRIPE_PUBLISHABLE_KEY
    )
    STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default=OFFLINE_STRIPE_WEBHOOK_SECRET)
    # The stand-in's address is chosen at run time by `make run` (devstack.run: a free port).
    STRIPE_API_HOST = env.str("STRIPE_API_HOST", default="http://127.0.0.1:8420")
    STRIPE_API_HOST_OVERRIDE = STRIPE_API_HOST
    STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY
    STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="/js.stripe.com/v3/")

# The stand-in has a portal page of its own; with real Stripe keys, configure the portal first.
BILLING_PORTAL_ENABLED = env.bool("BILLING_PORTAL_ENABLED", default=True)

# The dev mailbox page (/_dev/mailbox/, devtools/mailbox.py) reads this Maildir, which the dev
# mail server of `make run` (tools/devstack/devstack/mailserver.py) writes.
DEV_MAILBOX_DIR = env.str("DEV_MAILBOX_DIR", default=str(VAR_DIR / "mailbox"))

JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="dev-only-jwt-signing-key-0123456789abcdef")
SIMPLE_JWT["SIGNING_KEY"] = JWT_SIGNING_KEY

# Without real LinkedIn keys, sign-in goes to the dev LinkedIn stand-in (devtools/oidc),
# served by this same site, as its one client (devtools/offline.py).
if not SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY:
    SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY = DEV_OIDC_CLIENT_ID
    SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET = DEV_OIDC_CLIENT_SECRET
    SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT = f"{SITE_URL}/_dev/oidc"
