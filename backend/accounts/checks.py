"""System checks for sign-in and API tokens: no dev LinkedIn outside dev, no weak JWT key."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

DEV_OIDC_PATH = "/_dev/oidc"


@register()
def linkedin_configured(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Outside local/test settings, sign-in must go to the real LinkedIn with real keys."""
    if getattr(settings, "DEVTOOLS_ALLOWED", False):
        return []
    errors: list[Error] = []
    endpoint = getattr(settings, "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT", "") or ""
    if DEV_OIDC_PATH in endpoint:
        errors.append(
            Error(
                f"SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT points at {endpoint!r}, "
                "the dev LinkedIn stand-in.",
                hint="Unset it (the default is https://www.linkedin.com/oauth); the stand-in "
                "is dev/test tooling only.",
                id="accounts.E001",
            )
        )
    for name in (
        "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY",
        "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET",
    ):
        value = getattr(settings, name, "") or ""
        if not value or value.startswith("dev-oidc-"):
            errors.append(
                Error(
                    f"{name} is not set (or is the dev stand-in's dummy value).",
                    hint=f"Set {name} from your LinkedIn app's Auth settings.",
                    id="accounts.E002",
                )
            )
    return errors


@register()
def jwt_signing_key_strong(app_configs: Any, **kwargs: Any) -> list[Error]:
    """HS256 keys shorter than the hash output can be brute-forced offline from one token."""
    errors: list[Error] = []
    jwt = getattr(settings, "SIMPLE_JWT", {})
    key = jwt.get("SIGNING_KEY") or ""
    minimum = getattr(settings, "JWT_MIN_KEY_BYTES", 32)
    if len(key.encode()) < minimum:
        errors.append(
            Error(
                f"JWT_SIGNING_KEY is {len(key.encode())} bytes; at least {minimum} are required.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                id="accounts.E003",
            )
        )
    if not getattr(settings, "DEVTOOLS_ALLOWED", False) and key.startswith("dev-only-"):
        errors.append(
            Error(
                "JWT_SIGNING_KEY is the local settings' dev key.",
                hint="Set JWT_SIGNING_KEY to a fresh random value.",
                id="accounts.E004",
            )
        )
    allowed = tuple(getattr(settings, "JWT_ALLOWED_ALGORITHMS", ("HS256",)))
    if jwt.get("ALGORITHM") not in allowed:
        errors.append(
            Error(
                f"SIMPLE_JWT['ALGORITHM'] is {jwt.get('ALGORITHM')!r}, not one of {allowed}.",
                id="accounts.E005",
            )
        )
    if not jwt.get("AUDIENCE") or not jwt.get("ISSUER"):
        errors.append(
            Error(
                "SIMPLE_JWT must set AUDIENCE and ISSUER so tokens are verified against them.",
                id="accounts.E006",
            )
        )
    return errors
