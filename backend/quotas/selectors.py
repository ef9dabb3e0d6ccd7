"""Reads of quota usage. The rolling-window semantics are described in ``quotas.services``."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from billing.selectors import Tier, tier_for

from .client_ip import client_network
from .services import quota_peek


@dataclass(frozen=True)
class Principal:
    """Who a data-API request is counted against, and their limit (None: unlimited)."""

    key: str
    limit: int | None
    tier: Tier


def principal_for(request: HttpRequest) -> Principal:
    """Guests by client IP (IPv6: its /64), signed-in users by user id, whatever their IP.

    Pass the DRF ``Request`` when there is one, so a user signed in with a Bearer token
    is recognised.
    """
    tier = tier_for(request.user)
    if tier == "guest":
        return Principal(
            key=f"ip:{client_network(request)}", limit=settings.API_QUOTA_GUEST, tier=tier
        )
    key = f"user:{request.user.pk}"
    if tier == "premium":
        return Principal(key=key, limit=None, tier=tier)
    return Principal(key=key, limit=settings.API_QUOTA_FREE, tier=tier)


def usage_for(request: HttpRequest) -> dict[str, Any]:
    """``{"used": n, "limit": m or None, "resets_at": ISO-8601}`` for the caller's rolling day.

    ``used`` counts the data-API requests of the last 24 hours (premium requests are
    counted too, against no limit); ``resets_at`` is when the quota next gives room back
    (see ``quotas.services``). Reading it does not count as a request.
    """
    principal = principal_for(request)
    state = quota_peek(key=principal.key, limit=principal.limit)
    return {
        "used": state.used,
        "limit": state.limit,
        "resets_at": state.resets_at.isoformat().replace("+00:00", "Z"),
    }
