"""How often a signed-in person may have API tokens issued (``POST /api/auth/token/``)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class TokenIssueThrottle(UserRateThrottle):
    """Per user (``ACCOUNTS_RATE_TOKEN_ISSUE``): each pair is a live 30-day credential, and a
    script that loops on this endpoint would fill the outstanding-token table."""

    scope = "token_issue"

    def get_rate(self) -> str:
        return str(settings.ACCOUNTS_RATE_TOKEN_ISSUE)
