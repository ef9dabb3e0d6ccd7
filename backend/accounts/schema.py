"""drf-spectacular descriptions of this app's authentication classes."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerChallengeScheme(OpenApiAuthenticationExtension):
    """The token endpoints take no credentials (the refresh token is in the body)."""

    target_class = "accounts.authentication.BearerChallenge"
    name: list[str] = []

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, Any]]:
        return []

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return []
