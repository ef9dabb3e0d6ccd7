"""The tier quota on data-API views: count, refuse with 429, and say where the caller stands."""

from typing import Any

from django.http import HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from .selectors import principal_for
from .services import QuotaState, quota_consume

PREMIUM_HINT = "Premium lifts the limit: subscribe at /premium."


class QuotaExceeded(exceptions.Throttled):
    default_code = "quota_exceeded"


class TierQuotaMixin:
    """Mix into an ``APIView`` before it: every request that passed authentication and
    permissions counts against the caller's rolling-day quota; over it, 429 with
    ``Retry-After``. Every response after the count carries ``X-RateLimit-Limit``,
    ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (Unix time); premium gets
    ``X-RateLimit-Limit: unlimited`` only.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        principal = principal_for(request)
        state = quota_consume(key=principal.key, limit=principal.limit)
        request.quota_state = state  # type: ignore[attr-defined]
        if not state.allowed:
            who = "from your address" if principal.tier == "guest" else "for your account"
            raise QuotaExceeded(
                wait=state.retry_after,
                detail=(
                    f"You have used the {state.limit} data-API requests per day allowed "
                    f"{who}. {PREMIUM_HINT}"
                ),
            )

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        state: QuotaState | None = getattr(request, "quota_state", None)
        if state is not None:
            rate_limit_headers(response, state)
        return response


def rate_limit_headers(response: HttpResponseBase, state: QuotaState) -> None:
    if state.limit is None:
        response["X-RateLimit-Limit"] = "unlimited"
        return
    response["X-RateLimit-Limit"] = str(state.limit)
    response["X-RateLimit-Remaining"] = str(state.remaining)
    response["X-RateLimit-Reset"] = str(int(state.resets_at.timestamp()))
