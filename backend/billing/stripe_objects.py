"""Reading Stripe objects of either shape: stripe-python objects and plain dicts.

stripe-python's objects are not dicts since v13 (no ``.get``), while webhook payloads and
test fixtures are plain JSON; an expandable field holds an id or the expanded object;
times are Unix seconds. Every billing module reads Stripe data through these helpers.
Nothing here calls Stripe (:mod:`billing.stripe_client` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def field(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for dicts and stripe-python objects alike; ``default`` if it is absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    try:
        return obj[key]
    except (KeyError, TypeError, IndexError):
        return default


def object_id(value: Any) -> str:
    """The id in a field that holds either the id or the expanded object; ``""`` if none."""
    if value is None or isinstance(value, str):
        return value or ""
    return str(field(value, "id") or "")


def timestamp(value: Any) -> datetime | None:
    """A Stripe time (Unix seconds, or a datetime) as an aware UTC datetime; None if empty."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(value), tz=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with ``Z`` for UTC (``2026-11-26T12:00:00Z``), as the API answers; None if None."""
    return value.isoformat().replace("+00:00", "Z") if value else None
