"""Reads of quota usage (placeholder until the quota counters land)."""

from typing import Any

from django.http import HttpRequest


def usage_for(request: HttpRequest) -> dict[str, Any]:
    """``{"used": n, "limit": m or None, "resets_at": ISO-8601}`` for the caller, today."""
    return {"used": 0, "limit": None, "resets_at": None}
