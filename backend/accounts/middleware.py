"""Sign-in failures become a redirect to the SPA's login page with an error code, never a 500.

Only a code from :data:`ERROR_CODES` travels in ``/login?error=``; the page shows its own fixed
sentence for each (frontend/src/pages/LoginPage.vue), so a crafted link cannot make the site
display text of someone else's choosing.
"""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from social_core.exceptions import (
    AuthAssociationError,
    AuthCanceled,
    AuthConfigurationError,
    AuthCredentialError,
    AuthProviderError,
    AuthResponseError,
    AuthSessionError,
    SocialAuthBaseException,
)
from social_django.middleware import SocialAuthExceptionMiddleware

logger = logging.getLogger(__name__)

CANCELLED_CODES = {"user_cancelled_login", "user_cancelled_authorize", "access_denied"}

#: What went wrong, as the login page knows it (docs/api.md, "Sign-in with LinkedIn").
ERROR_CODES = (
    "cancelled",  # the person cancelled at LinkedIn
    "session",  # the attempt expired or did not start in this browser
    "response",  # LinkedIn's answer (the ID token) could not be verified
    "credential",  # LinkedIn did not accept the attempt
    "provider",  # LinkedIn unreachable, or it refused the request
    "identity_in_use",  # that LinkedIn account belongs to another user here
    "user_mismatch",  # signed in here with another LinkedIn account
    "configuration",  # our side is misconfigured
    "unknown",
)


def sign_in_error_code(exception: Exception) -> str:
    """One of :data:`ERROR_CODES`; never provider text or internal detail."""
    code = getattr(exception, "code", "")
    provider_code = getattr(exception, "provider_code", None)
    if isinstance(exception, AuthCanceled) or provider_code in CANCELLED_CODES:
        return "cancelled"
    if code in ("identity_in_use", "user_mismatch"):
        return str(code)
    for family, key in (
        (AuthSessionError, "session"),
        (AuthCredentialError, "credential"),
        (AuthResponseError, "response"),
        (AuthProviderError, "provider"),
        (AuthAssociationError, "identity_in_use"),
        (AuthConfigurationError, "configuration"),
    ):
        if isinstance(exception, family):
            return key
    return "unknown"


def login_error_url(code: str) -> str:
    base = getattr(settings, "SOCIAL_AUTH_LOGIN_ERROR_URL", "/login")
    return f"{base}?{urlencode({'error': code})}"


class SocialAuthErrorRedirectMiddleware(SocialAuthExceptionMiddleware):
    """Every failure inside the social-auth views ends at ``/login?error=<code>``.

    social-auth's own middleware re-raises under DEBUG and handles only its own
    exception family; a sign-in must never show a debug page or a 500, so anything
    raised while a social-auth view runs (e.g. a provider that answers garbage) is
    logged and turned into the same redirect.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if getattr(request, "social_strategy", None) is None:
            return None  # not a social-auth view: leave it to Django
        if isinstance(exception, SocialAuthBaseException):
            logger.warning(
                "LinkedIn sign-in failed: %s (code=%s stage=%s provider_code=%s)",
                type(exception).__name__,
                exception.code,
                exception.stage,
                exception.provider_code,
            )
        else:
            logger.exception("LinkedIn sign-in failed unexpectedly")
        response = HttpResponseRedirect(login_error_url(sign_in_error_code(exception)))
        response["Cache-Control"] = "no-store"
        return response
