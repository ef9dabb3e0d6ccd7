"""Authorization codes and access tokens, in the shared Django cache."""

import secrets
from typing import Any

from django.core.cache import cache

CODE_TTL_SECONDS = 60
ACCESS_TOKEN_TTL_SECONDS = 3600
_CODE = "dev-oidc:code:"
_TOKEN = "dev-oidc:access:"


def code_create(grant: dict[str, Any]) -> str:
    code = secrets.token_urlsafe(32)
    cache.set(_CODE + code, grant, CODE_TTL_SECONDS)
    return code


def code_redeem(code: str) -> dict[str, Any] | None:
    """The grant for ``code`` exactly once: a DELETE that removed the row wins."""
    key = _CODE + code
    grant = cache.get(key)
    if grant is None or not cache.delete(key):
        return None
    return grant


def access_token_create(identity: dict[str, Any]) -> str:
    token = secrets.token_urlsafe(32)
    cache.set(_TOKEN + token, identity, ACCESS_TOKEN_TTL_SECONDS)
    return token


def access_token_identity(token: str) -> dict[str, Any] | None:
    return cache.get(_TOKEN + token)
