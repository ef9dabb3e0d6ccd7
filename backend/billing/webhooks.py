"""The Stripe webhook receiver: verify, store in the inbox, enqueue, answer 200. Nothing else.

The request never calls Stripe and never processes the event: a Celery worker does that
(:mod:`billing.tasks`), so Stripe gets its answer in milliseconds whatever Stripe or the
database of dj-stripe are doing. Answers (docs/api.md, "Stripe webhooks"):

* 400 ``{"detail", "code"}`` and nothing stored: no ``Stripe-Signature`` header, a signature
  made with none of the ``STRIPE_WEBHOOK_SECRET`` secrets (comma-separated, for rotation),
  a timestamp outside ``STRIPE_WEBHOOK_TOLERANCE`` seconds **in either direction**, a body
  that is not a JSON Stripe event.
* 200 for a stored event, for an event id already in the inbox (nothing enqueued again) and
  for a type the worker does not handle (stored as ``ignored``).
* 503 when the inbox cannot be written, so that Stripe retries the delivery.

A timestamp in the future: stripe-python only bounds the past (``t < now - tolerance``).
Stripe signs at send time, so a timestamp ahead of our clock by more than the tolerance
means a broken clock on one side or a signature minted for later use (a signed payload
that becomes valid only later extends the window in which a captured delivery can be
replayed). Either way it is refused like a stale one (code ``timestamp_out_of_tolerance``);
skew within the tolerance is accepted, the same allowance Stripe gives in the past.

When the broker is down the event is still stored and 200 is answered: publishing fails
fast (no publish retry, short connection timeout), is logged, and the sweep
(``billing.sweep_webhook_events``) enqueues the event later.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .events import HANDLED_TYPES
from .models import WebhookEvent
from .tasks import webhook_event_enqueue

logger = logging.getLogger(__name__)


class Rejected(Exception):
    """A delivery refused with 400: ``code`` is the machine code of the answer."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def webhook_secrets() -> list[str]:
    """The configured signing secrets; during a rotation the old and the new one."""
    return [s.strip() for s in settings.STRIPE_WEBHOOK_SECRET.split(",") if s.strip()]


def _signature_timestamp(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "t":
            return int(value)
    raise ValueError("no timestamp")


def event_verify(payload: bytes, header: str | None, *, now: float | None = None) -> dict[str, Any]:
    """The verified event of a delivery, as parsed JSON, or :class:`Rejected` saying why not."""
    if not header:
        raise Rejected("missing_signature", "The Stripe-Signature header is missing.")
    secrets = webhook_secrets()
    if not secrets:  # production refuses to start without one; dev may forget it
        raise RuntimeError("STRIPE_WEBHOOK_SECRET is not set")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_payload", "The body is not UTF-8 text.") from exc
    # Which secret signed it? Checked without the time bound first, so that a stale
    # delivery is told apart from a forged one in the answer and the log.
    secret = None
    for candidate in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, candidate, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        secret = candidate
        break
    if secret is None:
        raise Rejected("invalid_signature", "The Stripe-Signature header does not match this body.")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    skew = (time.time() if now is None else now) - _signature_timestamp(header)
    if abs(skew) > tolerance:
        direction = "old" if skew > 0 else "far in the future"
        raise Rejected(
            "timestamp_out_of_tolerance",
            f"The signature timestamp is too {direction} (more than {tolerance} s).",
        )
    try:
        # stripe-python's own check again (signature and past bound), then the parse.
        stripe.Webhook.construct_event(text, header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:  # the clock ticked past the bound
        raise Rejected("timestamp_out_of_tolerance", str(exc)) from exc
    except (ValueError, AttributeError, TypeError) as exc:
        raise Rejected("invalid_payload", "The body is not a JSON Stripe event.") from exc
    raw = json.loads(text)  # parsed fine just above; the inbox stores it as sent
    if not isinstance(raw, dict):
        raise Rejected("invalid_payload", "The body is not a Stripe event.")
    data = raw.get("data")
    if not isinstance(raw.get("id"), str) or not raw["id"] or not isinstance(raw.get("type"), str):
        raise Rejected("invalid_payload", "The body is not a Stripe event (no id or type).")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise Rejected("invalid_payload", "The body is not a Stripe event (no data.object).")
    return raw


def _created(event: dict[str, Any]) -> datetime | None:
    value = event.get("created")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


def event_store(event: dict[str, Any]) -> tuple[WebhookEvent, bool]:
    """Insert the event into the inbox once; ``(row, created)``. Enqueues on commit."""
    handled = event["type"] in HANDLED_TYPES
    with transaction.atomic():
        row, created = WebhookEvent.objects.get_or_create(
            id=event["id"],
            defaults={
                "type": event["type"][:100],
                "payload": event,
                "livemode": bool(event.get("livemode", False)),
                "api_version": str(event.get("api_version") or "")[:64],
                "created": _created(event),
                "status": WebhookEvent.Status.RECEIVED if handled else WebhookEvent.Status.IGNORED,
            },
        )
        if created and handled:
            transaction.on_commit(lambda: webhook_event_enqueue(row.id))
    return row, created


@csrf_exempt
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """``POST /api/stripe-webhooks/``: see the module docstring for the answers."""
    if request.method != "POST":  # JSON like every error (require_POST answers empty HTML)
        response = _error(405, "method_not_allowed", "Only POST is accepted here.")
        response["Allow"] = "POST"
        return response
    payload = request.body
    try:
        event = event_verify(payload, request.headers.get("Stripe-Signature"))
    except Rejected as exc:
        logger.warning("Stripe webhook refused (%s): %s", exc.code, exc.detail)
        return _error(400, exc.code, exc.detail)
    except RuntimeError:
        logger.error("Stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        return _error(503, "webhook_not_configured", "Webhook signing is not configured.")
    try:
        row, created = event_store(event)
    except DatabaseError:
        logger.exception("Stripe webhook %s could not be stored", event["id"])
        return _error(
            503, "storage_unavailable", "The event could not be stored; please deliver it again."
        )
    body: dict[str, Any] = {"received": True, "id": row.id, "status": row.status}
    if not created:
        body["duplicate"] = True
    return JsonResponse(body, status=200)
