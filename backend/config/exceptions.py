"""Every API error is JSON ``{"detail": "<a sentence>", "code": "<machine code>"}``."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


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
