"""The Stripe webhook receiver: verify, store in the inbox, wake a worker, answer 200. Nothing else.

The request never calls Stripe and never processes the event: a Celery worker does that
(:mod:`billing.tasks`), so Stripe gets its answer in milliseconds whatever Stripe or the
database of dj-stripe are doing. Answers (docs/api.md, "Stripe webhooks"):

* 400 ``{"detail", "code"}`` and nothing stored: no ``Stripe-Signature`` header, a signature
  made with none of the ``STRIPE_WEBHOOK_SECRET`` secrets (comma-separated, for rotation),
  a timestamp outside ``STRIPE_WEBHOOK_TOLERANCE`` seconds **in either direction**, a body
  that is not a JSON Stripe event.
* 200 for a stored event, for an event id already in the inbox (nothing enqueued again) and
  for a type the worker does not handle (stored as ``ignored``).
* 413 ``body_too_large`` for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (NGINX answers the
  same for one over its ``client_max_body_size``), nothing stored.
* 503 when the inbox cannot be written, so that Stripe retries the delivery.

Each delivery costs what it must and no more: one HMAC-SHA256 per configured secret until
one matches (Stripe's scheme, the same check as stripe-python's ``WebhookSignature``, made
once), one JSON parse, one ``INSERT ... ON CONFLICT DO NOTHING`` (:func:`inbox.inbox_add`)
and one wake-up of the workers (:func:`tasks.webhook_inbox_wake`). ``config/wsgi.py``
serves this view without the middleware it does not need (sessions, CSRF, auth, messages).

A timestamp in the future: stripe-python only bounds the past (``t < now - tolerance``).
Stripe signs at send time, so a timestamp ahead of our clock by more than the tolerance
means a broken clock on one side or a signature minted for later use (a signed payload
that becomes valid only later extends the window in which a captured delivery can be
replayed). Either way it is refused like a stale one (code ``timestamp_out_of_tolerance``);
skew within the tolerance is accepted, the same allowance Stripe gives in the past.

When the broker is down the event is still stored and 200 is answered: the wake-up fails
fast (no publish retry, short connection timeout), is logged, and the sweep
(``billing.sweep_webhook_events``) enqueues the event later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .events import HANDLED_TYPES
from .inbox import inbox_add, inbox_status
from .models import WebhookEvent
from .tasks import webhook_inbox_wake

logger = logging.getLogger(__name__)

#: Stripe's signature scheme: ``v1`` is HMAC-SHA256 of ``"<t>.<body>"``.
SIGNATURE_SCHEME = "v1"


class Rejected(Exception):
    """A delivery refused with 400: ``code`` is the machine code of the answer."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class VerifiedEvent:
    """A delivery that passed :func:`event_verify`: the parsed event and its body as sent."""

    event: dict[str, Any]
    body: str


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def webhook_secrets() -> list[str]:
    """The configured signing secrets; during a rotation the old and the new one."""
    return [s.strip() for s in settings.STRIPE_WEBHOOK_SECRET.split(",") if s.strip()]


def _signature_parts(header: str) -> tuple[int, list[bytes]]:
    """``t`` and the ``v1`` signatures of a header, read the way stripe-python reads them."""
    items = [item.split("=", 2) for item in header.split(",")]
    times = [item[1] for item in items if item[0] == "t"]  # every t must be well formed
    timestamp = int(times[0])
    signatures = [item[1].encode() for item in items if item[0] == SIGNATURE_SCHEME]
    return timestamp, signatures


def _signed_with(
    payload: bytes, timestamp: int, signatures: list[bytes], secrets: list[str]
) -> bool:
    signed = b"%d." % timestamp + payload
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
        # Bytes on both sides: a non-ASCII header is a mismatch, not a TypeError.
        if any(hmac.compare_digest(expected, signature) for signature in signatures):
            return True
    return False


def event_verify(payload: bytes, header: str | None, *, now: float | None = None) -> VerifiedEvent:
    """The verified event of a delivery, parsed, or :class:`Rejected` saying why not."""
    if not header:
        raise Rejected("missing_signature", "The Stripe-Signature header is missing.")
    secrets = webhook_secrets()
    if not secrets:  # production refuses to start without one; dev may forget it
        raise RuntimeError("STRIPE_WEBHOOK_SECRET is not set")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_payload", "The body is not UTF-8 text.") from exc
    mismatch = Rejected(
        "invalid_signature", "The Stripe-Signature header does not match this body."
    )
    try:
        timestamp, signatures = _signature_parts(header)
    except (ValueError, IndexError) as exc:
        raise mismatch from exc
    # Signature first, time bound second: a stale delivery is told apart from a forged one
    # in the answer and the log.
    if not _signed_with(payload, timestamp, signatures, secrets):
        raise mismatch
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    skew = int(time.time() if now is None else now) - timestamp  # ints: any t is comparable
    if abs(skew) > tolerance:
        direction = "old" if skew > 0 else "far in the future"
        raise Rejected(
            "timestamp_out_of_tolerance",
            f"The signature timestamp is too {direction} (more than {tolerance} s).",
        )
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Rejected("invalid_payload", "The body is not a JSON Stripe event.") from exc
    if not isinstance(event, dict):
        raise Rejected("invalid_payload", "The body is not a Stripe event.")
    data, event_id = event.get("data"), event.get("id")
    # The id is the inbox's key (255 characters at most): longer is no Stripe id either.
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise Rejected("invalid_payload", "The body is not a Stripe event (no id).")
    if not isinstance(event.get("type"), str):
        raise Rejected("invalid_payload", "The body is not a Stripe event (no type).")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise Rejected("invalid_payload", "The body is not a Stripe event (no data.object).")
    return VerifiedEvent(event, text)


def _created(event: dict[str, Any]) -> datetime | None:
    value = event.get("created")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def event_store(verified: VerifiedEvent) -> tuple[str, bool]:
    """Put the event into the inbox once: ``(its status, created)``. Wakes a worker on commit.

    A handled type is stored ``received`` and a worker is woken; any other type is stored
    ``ignored`` and nobody is woken. A duplicate changes nothing and wakes nobody.
    """
    event = verified.event
    handled = event["type"] in HANDLED_TYPES
    status = WebhookEvent.Status.RECEIVED if handled else WebhookEvent.Status.IGNORED
    created = inbox_add(
        event_id=event["id"],
        event_type=event["type"][:100],
        payload_json=verified.body,
        livemode=bool(event.get("livemode", False)),
        api_version=str(event.get("api_version") or "")[:64],
        created=_created(event),
        status=status,
    )
    if not created:
        return inbox_status(event["id"]) or status, False
    if handled:
        # In autocommit the row is committed already and this runs at once; inside a
        # caller's transaction it waits for the commit, so the worker finds the row.
        event_id = event["id"]
        transaction.on_commit(lambda: webhook_inbox_wake(event_id))
    return status, True


@csrf_exempt
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """``POST /api/stripe-webhooks/``: see the module docstring for the answers."""
    if request.method != "POST":  # JSON like every error (require_POST answers empty HTML)
        response = _error(405, "method_not_allowed", "Only POST is accepted here.")
        response["Allow"] = "POST"
        return response
    try:
        payload = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        logger.warning("Stripe webhook refused (body_too_large): over %s bytes", limit)
        # NGINX refuses a larger body before it gets here, with the same answer.
        detail = "The request body is larger than this endpoint accepts."
        return _error(413, "body_too_large", detail)
    try:
        verified = event_verify(payload, request.META.get("HTTP_STRIPE_SIGNATURE"))
    except Rejected as exc:
        logger.warning("Stripe webhook refused (%s): %s", exc.code, exc.detail)
        return _error(400, exc.code, exc.detail)
    except RuntimeError:
        logger.error("Stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        return _error(503, "webhook_not_configured", "Webhook signing is not configured.")
    event_id = verified.event["id"]
    try:
        status, created = event_store(verified)
    except DatabaseError:
        logger.exception("Stripe webhook %s could not be stored", event_id)
        return _error(
            503, "storage_unavailable", "The event could not be stored; please deliver it again."
        )
    body: dict[str, Any] = {"received": True, "id": event_id, "status": status}
    if not created:
        body["duplicate"] = True
    return JsonResponse(body, status=200)
