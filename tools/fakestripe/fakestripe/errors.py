"""Stripe-shaped error responses.

localstripe answers every failure with ``{"error": {"type": "invalid_request_error"}}`` and a
vague message. Stripe's clients branch on ``type`` / ``code`` / HTTP status (402 becomes
``stripe.CardError``, ``idempotency_error`` becomes ``stripe.IdempotencyError``), so these helpers
build the exact bodies Stripe sends. They all raise localstripe's own ``UserError`` so its error
middleware (and ours) turn them into JSON responses.
"""

from __future__ import annotations

from typing import Any

from localstripe.errors import UserError

DOC_URL = "https://docs.stripe.com/error-codes/"


class StripeError(UserError):
    """A ``UserError`` keeping the given ``type`` (localstripe forces invalid_request_error)."""

    def __init__(self, status: int, type_: str, message: str, **fields: Any) -> None:
        super().__init__(status, message, {k: v for k, v in fields.items() if v is not None})
        self.body["error"]["type"] = type_
        code = fields.get("code")
        if code:
            self.body["error"].setdefault("doc_url", DOC_URL + str(code).replace("_", "-"))


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, param=param, code=code)


def resource_missing(object_name: str, id_: str, param: str = "id") -> StripeError:
    """Stripe: ``404 {"code": "resource_missing", "message": "No such customer: 'cus_x'"}``."""
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {object_name}: '{id_}'",
        code="resource_missing",
        param=param,
    )


def card_error(
    message: str,
    *,
    code: str,
    decline_code: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> StripeError:
    """Stripe: HTTP 402 with ``type: card_error`` (stripe-python raises ``stripe.CardError``)."""
    return StripeError(
        402, "card_error", message, code=code, decline_code=decline_code, param=param, **extra
    )


def idempotency_error(message: str, status: int = 400) -> StripeError:
    return StripeError(status, "idempotency_error", message)
