"""System checks that keep dev stand-ins out of production."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def stripe_standin_refused(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Outside local/test settings, Stripe must be the real one and keys not the dummies."""
    errors: list[Error] = []
    if getattr(settings, "DEVTOOLS_ALLOWED", False):
        return errors
    host = getattr(settings, "STRIPE_API_HOST_OVERRIDE", "")
    if host and not host.startswith("https://api.stripe.com"):
        errors.append(
            Error(
                f"STRIPE_API_HOST points at {host!r}, a local Stripe stand-in.",
                hint="Unset STRIPE_API_HOST in production; the stand-in is dev/test tooling only.",
                id="billing.E001",
            )
        )
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        if "offline" in getattr(settings, name, ""):
            errors.append(
                Error(
                    f"{name} is the offline stand-in's dummy value.",
                    hint=f"Set {name} to the value from your Stripe dashboard.",
                    id="billing.E002",
                )
            )
    return errors
