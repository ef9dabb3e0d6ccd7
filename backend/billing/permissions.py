"""DRF permissions that depend on the caller's billing state."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .selectors import tier_for


class IsPremium(BasePermission):
    """Premium subscribers only, decided from the stored entitlement (never a token claim).

    A guest gets 401 (DRF answers ``NotAuthenticated`` when no credentials were sent),
    a signed-in free user gets 403 with ``message``.
    """

    message = "This data is part of Premium. Subscribe at /premium to unlock holdings and holders."
    code = "premium_required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return tier_for(request.user) == "premium"
