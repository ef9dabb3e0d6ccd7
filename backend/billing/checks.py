"""System checks that keep dev stand-ins out of production, and the deploy checks of the
e-mail settings billing's notices need."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

#: Where an SMTP password may travel without TLS: the relay runs on this same host.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


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


@register(deploy=True)
def email_configured(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """``check --deploy``: receipts and payment notices need an SMTP relay and a real sender,
    and an SMTP password must not cross the network in clear."""
    warnings: list[Warning] = []
    host = getattr(settings, "EMAIL_HOST", "") or ""
    backend = getattr(settings, "EMAIL_BACKEND", "")
    if backend.endswith("smtp.EmailBackend") and not host:
        warnings.append(
            Warning(
                "EMAIL_HOST is not set: billing e-mails (receipts, failed payments) cannot be "
                "sent; they wait, retry and end as failed in the admin.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD) to "
                "your provider's SMTP relay (docs/deploy.md).",
                id="billing.W001",
            )
        )
    sender = getattr(settings, "DEFAULT_FROM_EMAIL", "") or ""
    if sender.rstrip(">").endswith("@localhost"):
        warnings.append(
            Warning(
                f"DEFAULT_FROM_EMAIL is {sender!r}: mail from a local address is refused or "
                "marked as spam by most providers.",
                hint="Set DEFAULT_FROM_EMAIL to an address of your domain, e.g. "
                "'Open SEC Data <billing@your.domain>'.",
                id="billing.W002",
            )
        )
    password = getattr(settings, "EMAIL_HOST_PASSWORD", "") or ""
    use_tls = getattr(settings, "EMAIL_USE_TLS", False) or getattr(settings, "EMAIL_USE_SSL", False)
    if password and not use_tls and host not in LOOPBACK_HOSTS:
        warnings.append(
            Warning(
                f"EMAIL_HOST_PASSWORD is set but EMAIL_USE_TLS is off: the password would "
                f"cross the network to {host!r} in clear.",
                hint="Set EMAIL_USE_TLS=true (STARTTLS, usually port 587).",
                id="billing.W003",
            )
        )
    return warnings
