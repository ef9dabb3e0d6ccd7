"""Writes for accounts: API tokens for scripts (simplejwt, refresh tokens blacklisted)."""

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from .models import User

REFRESH_REJECTED = (
    "This refresh token is invalid, expired or revoked; sign in again to get a new one."
)


def _expiry(token: Any) -> str:
    return datetime.fromtimestamp(token["exp"], tz=UTC).isoformat()


def _load_refresh(raw: str) -> RefreshToken:
    """Verify signature, audience, issuer, expiry, type and the blacklist; 401 otherwise."""
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as error:
        raise InvalidToken(REFRESH_REJECTED) from error


def _active_owner(refresh: RefreshToken) -> User:
    from rest_framework_simplejwt.settings import api_settings

    user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
    if user is None or not user.is_active:
        raise InvalidToken("The account this token belongs to no longer exists or is deactivated.")
    return user


def token_pair_issue(*, user: User) -> dict[str, str]:
    """A new refresh + access pair for ``user`` (recorded as outstanding, so revocable)."""
    refresh = RefreshToken.for_user(user)
    access = refresh.access_token
    return {
        "access": str(access),
        "refresh": str(refresh),
        "access_expires": _expiry(access),
        "refresh_expires": _expiry(refresh),
    }


@transaction.atomic
def token_pair_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: blacklist the presented refresh token, return a new pair."""
    old = _load_refresh(refresh)
    user = _active_owner(old)
    # simplejwt returns get_or_create's (token, created) pair; its stubs say otherwise.
    outcome: Any = old.blacklist()
    created: bool = outcome[1]
    if not created:
        # Another request rotated this same token a moment ago: it is single-use.
        raise InvalidToken(REFRESH_REJECTED)
    new = RefreshToken.for_user(user)
    return {"access": str(new.access_token), "refresh": str(new)}


def token_revoke(*, refresh: str) -> None:
    """Blacklist ``refresh``: it never works again."""
    _load_refresh(refresh).blacklist()
