"""Reads for accounts."""

from typing import Any

from django.http import HttpRequest

from billing.selectors import subscription_status, tier_for
from quotas.selectors import usage_for

from .models import User


def account_summary(*, user: User, request: HttpRequest) -> dict[str, Any]:
    """The ``GET /api/account/`` body: identity, tier and usage, all read now."""
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "tier": tier_for(user),
        "subscription": subscription_status(user),
        "usage": usage_for(request),
    }
