"""Every API error is JSON ``{"detail": "<a sentence>", "code": "<machine code>"}``."""

from typing import Any

from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

#: Seconds a client is asked to wait when the database is unreachable.
DATABASE_DOWN_RETRY_AFTER = 5


def _first_message(detail: Any) -> tuple[str, str]:
    """Flatten DRF's nested validation errors into one sentence and one code."""
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        message, code = _first_message(value)
        if field in ("detail", "non_field_errors"):
            return message, code
        return f"{field}: {message}", code
    code = getattr(detail, "code", "error")
    return str(detail), str(code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # DRF converts Django's own two (raised e.g. by content negotiation for an unknown
    # ``?format=``) only inside its handler, so convert them first: they need a code too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable (down, restarting, out of connections): nothing the
        # client did, and nothing a retry in a moment would not fix. A 503 with Retry-After,
        # not a 500: Stripe.js callers, scripts and the SPA retry it. Logged by Django's
        # request logger as every 5xx.
        set_rollback()
        return Response(
            {
                "detail": "The service is briefly unavailable; please try again in a moment.",
                "code": "service_unavailable",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_DOWN_RETRY_AFTER)},
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        message, code = _first_message(exc.detail)
        if isinstance(exc, exceptions.ValidationError):
            code = "invalid" if code in ("invalid", "error") else code
        body: dict[str, Any] = {"detail": message, "code": code}
        if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
            body["errors"] = exc.detail
        response.data = body
    return response


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's own 400s (a ``SuspiciousOperation``: a Host header not in ALLOWED_HOSTS, a
    request body or field count over Django's limits, ...), in the API's shape."""
    answer: int = status.HTTP_400_BAD_REQUEST
    if isinstance(exception, DisallowedHost):
        detail, code = "This site is not served under that host name.", "host_not_allowed"
    elif isinstance(exception, RequestDataTooBig):  # 413 and this code, as NGINX answers it
        detail, code = "The request body is larger than this endpoint accepts.", "body_too_large"
        answer = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exception, (TooManyFieldsSent, TooManyFilesSent)):
        detail = "The request has more fields or files than this endpoint accepts."
        code = "too_many_fields"
    else:
        detail, code = "The request could not be understood.", "bad_request"
    return JsonResponse({"detail": detail, "code": code}, status=answer)


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": "There is nothing at this address.", "code": "not_found"},
        status=status.HTTP_404_NOT_FOUND,
    )


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"detail": "Something went wrong on our side; please try again.", "code": "server_error"},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
