"""The dummy keys and ids of the offline stand-ins, in one place.

Development settings (``config.settings.local``, ``config.settings.stack``) and the tools
that start the stand-ins (``make run``, ``make stack``) import them from here. Each is an
obvious dummy that can never be mistaken for a real key; production settings refuse them
(``billing/checks.py``, ``accounts/checks.py``).
"""

OFFLINE_STRIPE_SECRET_KEY = "sk_test_offline0000000000000000000000"
OFFLINE_STRIPE_PUBLISHABLE_KEY = "pk_test_offline0000000000000000000000"
OFFLINE_STRIPE_WEBHOOK_SECRET = "whsec_offline0000000000000000000000000"

# The dev LinkedIn stand-in (devtools/oidc) knows this one client.
DEV_OIDC_CLIENT_ID = "dev-oidc-client-id-not-a-linkedin-key"
DEV_OIDC_CLIENT_SECRET = "dev-oidc-client-secret-not-a-linkedin-secret"
