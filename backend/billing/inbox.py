"""The webhook inbox's states: what happens to a ``WebhookEvent`` row after it is stored.

The receiver (:mod:`billing.webhooks`) inserts an event as ``received`` (or ``ignored`` for
a type :mod:`billing.events` does not handle). From there::

    received --inbox_claim--> processing --inbox_done----> done | ignored
                                         --inbox_failed--> failed
                                         --inbox_release-> received  (the retry claims it)
    processing, claimed too long ago --inbox_claim--> processing  (its worker died)
    received or processing, waiting too long --inbox_due--> received  (failed: too many attempts)
    any --inbox_replay--> received  (the admin's Replay)

Each transition is an ``UPDATE`` conditioned on the state it leaves (the admin's Replay
excepted), so of concurrent workers, sweeps and redelivered tasks only one moves an event.
The Celery tasks (:mod:`billing.tasks`) and the admin (:mod:`billing.admin`) drive these.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .models import WebhookEvent

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status


def inbox_claim(event_id: str, *, now: datetime | None = None) -> WebhookEvent | None:
    """Take an event for processing, atomically; None if someone else has it or it is over.

    One conditional UPDATE: only a ``received`` event, or a ``processing`` one whose
    claim is older than ``BILLING_WEBHOOK_STALE_AFTER`` (its worker died), moves to
    ``processing``. Of any number of concurrent claims exactly one updates the row.
    """
    now = now or timezone.now()
    stale = now - settings.BILLING_WEBHOOK_STALE_AFTER
    takeable = Q(status=Status.RECEIVED) | Q(status=Status.PROCESSING, status_changed_at__lt=stale)
    claimed = WebhookEvent.objects.filter(takeable, pk=event_id).update(
        status=Status.PROCESSING, status_changed_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return None
    return WebhookEvent.objects.get(pk=event_id)


def _finish(event: WebhookEvent, status: str, error: str = "") -> None:
    """Move a ``processing`` event (only) to ``status``; an end state stamps ``processed_at``."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": status,
        "status_changed_at": now,
        "last_error": error[:4000],
    }
    if status in (Status.DONE, Status.IGNORED, Status.FAILED):
        fields["processed_at"] = now
    WebhookEvent.objects.filter(pk=event.pk, status=Status.PROCESSING).update(**fields)


def inbox_done(event: WebhookEvent, *, ignored: bool = False) -> None:
    """Processed: ``done``, or ``ignored`` when the event turned out to need nothing."""
    _finish(event, Status.IGNORED if ignored else Status.DONE)


def inbox_failed(event: WebhookEvent, error: BaseException) -> None:
    """Given up (not transient, or out of retries): ``failed``, the error kept for the admin."""
    logger.error("Stripe event %s (%s) failed after %s attempt(s): %r",
                 event.pk, event.type, event.attempts, error)  # fmt: skip
    _finish(event, Status.FAILED, f"{error.__class__.__name__}: {error}")


def inbox_release(event: WebhookEvent, error: BaseException) -> None:
    """Back to ``received`` after a transient error, so that the retry can claim it."""
    logger.warning("Stripe event %s (%s) attempt %s failed, will retry: %r",
                   event.pk, event.type, event.attempts, error)  # fmt: skip
    _finish(event, Status.RECEIVED, f"{error.__class__.__name__}: {error}")


def inbox_due(*, now: datetime | None = None) -> list[str]:
    """Events whose task got lost; each is touched (so one sweep takes it) and returned.

    ``received`` for longer than ``BILLING_WEBHOOK_SWEEP_AFTER`` (the broker was down, or a
    task vanished with a worker), ``processing`` for longer than
    ``BILLING_WEBHOOK_STALE_AFTER`` (the worker died mid-task) go back to ``received``;
    events over ``BILLING_WEBHOOK_MAX_ATTEMPTS`` become ``failed`` instead.
    """
    now = now or timezone.now()
    sweep_after = settings.BILLING_WEBHOOK_SWEEP_AFTER
    stale_after = settings.BILLING_WEBHOOK_STALE_AFTER
    waiting = Q(status=Status.RECEIVED, status_changed_at__lt=now - sweep_after)
    stuck = Q(status=Status.PROCESSING, status_changed_at__lt=now - stale_after)
    due: list[str] = []
    for pk, status, changed, attempts in WebhookEvent.objects.filter(waiting | stuck).values_list(
        "pk", "status", "status_changed_at", "attempts"
    )[:1000]:
        mine = WebhookEvent.objects.filter(pk=pk, status=status, status_changed_at=changed)
        if attempts >= settings.BILLING_WEBHOOK_MAX_ATTEMPTS:
            mine.update(
                status=Status.FAILED,
                status_changed_at=now,
                processed_at=now,
                last_error=f"gave up after {attempts} attempts (swept)",
            )
            continue
        if mine.update(status=Status.RECEIVED, status_changed_at=now) == 1:
            due.append(pk)
    return due


def inbox_replay(event_ids: list[str]) -> list[str]:
    """Admin's Replay: the events go back to ``received``; the caller enqueues them."""
    now = timezone.now()
    WebhookEvent.objects.filter(pk__in=event_ids).update(
        status=Status.RECEIVED, status_changed_at=now, attempts=0, last_error="", processed_at=None
    )
    return list(event_ids)
