"""The answer to a locked-out admin sign-in (django-axes' ``AXES_LOCKOUT_CALLABLE``)."""

from __future__ import annotations

import logging
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


def admin_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """429 with ``Retry-After`` (seconds of the cool-off) and one plain sentence.

    The same answer whether the password was right or wrong, so a locked-out attacker learns
    nothing more; nothing of the credentials is echoed or logged.
    """
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 900
    logger.warning("admin sign-in locked out for %s s (%s)", seconds, request.path)
    response = HttpResponse(
        "Too many failed sign-in attempts. Try again in "
        f"{max(1, round(seconds / 60))} minute(s).\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response
