"""Sign-in failures become a redirect to the SPA's login page with a sentence, never a 500."""

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

MESSAGES = {
    "cancelled": "You cancelled signing in with LinkedIn.",
    "session": "Your sign-in attempt expired or did not match this browser; please sign in again.",
    "response": "LinkedIn's answer could not be verified, so you were not signed in; "
    "please try again.",
    "credential": "LinkedIn did not accept this sign-in attempt; please sign in again.",
    "provider": "LinkedIn could not be reached or refused the request; please try again later.",
    "identity_in_use": "This LinkedIn account belongs to another user of this site; "
    "sign out first, then sign in with it.",
    "user_mismatch": "You are signed in with another LinkedIn account; "
    "sign out first, then sign in again.",
    "configuration": "LinkedIn sign-in is not configured correctly on our side; "
    "please contact support.",
    "unknown": "Signing in with LinkedIn failed; please try again.",
}


def sign_in_error_message(exception: Exception) -> str:
    """A human sentence for the login page; no provider text, no internal detail."""
    code = getattr(exception, "code", "")
    provider_code = getattr(exception, "provider_code", None)
    if isinstance(exception, AuthCanceled) or provider_code in CANCELLED_CODES:
        return MESSAGES["cancelled"]
    if code in ("identity_in_use", "user_mismatch"):
        return MESSAGES[code]
    for family, key in (
        (AuthSessionError, "session"),
        (AuthCredentialError, "credential"),
        (AuthResponseError, "response"),
        (AuthProviderError, "provider"),
        (AuthAssociationError, "identity_in_use"),
        (AuthConfigurationError, "configuration"),
    ):
        if isinstance(exception, family):
            return MESSAGES[key]
    return MESSAGES["unknown"]


def login_error_url(message: str) -> str:
    base = getattr(settings, "SOCIAL_AUTH_LOGIN_ERROR_URL", "/login")
    return f"{base}?{urlencode({'error': message})}"


class SocialAuthErrorRedirectMiddleware(SocialAuthExceptionMiddleware):
    """Every failure inside the social-auth views ends at ``/login?error=<sentence>``.

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
        response = HttpResponseRedirect(login_error_url(sign_in_error_message(exception)))
        response["Cache-Control"] = "no-store"
        return response
