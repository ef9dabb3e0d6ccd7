"""Bearer JWT authentication for API scripts."""

from typing import Any

import jwt
from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token


class APIJWTAuthentication(JWTAuthentication):
    """simplejwt's class, stricter.

    - Only access tokens authenticate (a refresh token sent as a bearer is refused).
    - Only the allow-listed algorithms are even considered (``alg: none`` never is).
    - The user is read from the database on every request, so deactivation and the
      tier (``billing.selectors.tier_for``) take effect at once; nothing about the
      user is trusted from the token but its id.
    - Its ``WWW-Authenticate: Bearer realm="api"`` makes DRF answer 401, not 403.
    """

    www_authenticate_realm = "api"

    def get_validated_token(self, raw_token: bytes) -> Token:
        try:
            header = jwt.get_unverified_header(raw_token)
        except jwt.PyJWTError as error:
            raise InvalidToken("The token is malformed.") from error
        if header.get("alg") not in settings.JWT_ALLOWED_ALGORITHMS:
            raise InvalidToken("The token's signing algorithm is not accepted.")
        token = super().get_validated_token(raw_token)
        if token.get(api_settings.TOKEN_TYPE_CLAIM) != "access":
            raise InvalidToken("Only access tokens are accepted here.")
        return token

    def get_user(self, validated_token: Token) -> Any:
        user = super().get_user(validated_token)  # a fresh database read; checks is_active
        if not user.is_active:
            raise AuthenticationFailed("This account is deactivated.", code="user_inactive")
        return user


class BearerChallenge(BaseAuthentication):
    """Authenticates nobody; only supplies the 401 challenge for the token endpoints,
    which take the refresh token from the body and ignore any credentials sent."""

    def authenticate(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
