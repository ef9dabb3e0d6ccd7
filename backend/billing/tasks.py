"""Celery tasks of billing: Stripe webhook events, the inbox sweep, the nightly reconciliation.

Tasks take ids: an event moves through the inbox's states (:mod:`billing.inbox`) while
:mod:`billing.events` applies it; the reconciliation calls :mod:`billing.sync`. Retries and
backoff are declared on the task.
``acks_late`` with ``reject_on_worker_lost`` (settings) redeliver a task whose worker died;
the inbox claim makes a redelivered or duplicated task harmless.
"""

from __future__ import annotations

import logging

import stripe
from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from . import events, inbox, sync

logger = logging.getLogger(__name__)

#: Errors worth retrying: Stripe unreachable, rate-limited or 5xx; the database busy/down.
RETRYABLE = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    OperationalError,
)
MAX_RETRIES = 8


def webhook_event_enqueue(event_id: str) -> bool:
    """Hand an inbox event to a worker; False (logged) if the broker cannot take it now.

    Never raises and never waits long: the event is stored, and the sweep enqueues it
    again once the broker is back.
    """
    try:
        process_webhook_event.apply_async(args=(event_id,), retry=False)
    except Exception as exc:
        logger.warning(
            "Stripe event %s stored but not enqueued (%s: %s); the sweep will pick it up",
            event_id,
            exc.__class__.__name__,
            exc,
        )
        return False
    return True


@shared_task(
    bind=True,
    name="billing.process_webhook_event",
    acks_late=True,
    autoretry_for=RETRYABLE,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def process_webhook_event(self, event_id: str) -> str:
    """Process one inbox event by id; returns the status it ended in (or ``skipped``).

    Claimed atomically first, so duplicates (Stripe redelivering, the sweep, a replay,
    a redelivered task) do nothing while another copy runs or after it is done.
    """
    event = inbox.inbox_claim(event_id)
    if event is None:
        return "skipped"
    try:
        result = events.event_apply(event)
    except RETRYABLE as exc:
        out_of_retries = self.request.retries >= self.max_retries
        if out_of_retries or event.attempts >= settings.BILLING_WEBHOOK_MAX_ATTEMPTS:
            inbox.inbox_failed(event, exc)
            return "failed"
        inbox.inbox_release(event, exc)
        raise  # autoretry_for schedules the retry with backoff
    except Exception as exc:
        # Not transient (a bug, Stripe refusing the request): retrying would not help.
        logger.exception("Stripe event %s (%s) failed", event_id, event.type)
        inbox.inbox_failed(event, exc)
        return "failed"
    if result is None:
        inbox.inbox_done(event, ignored=True)
        return "ignored"
    logger.info("Stripe event %s (%s): %s", event_id, event.type, result.describe())
    inbox.inbox_done(event)
    return "done"


@shared_task(name="billing.sweep_webhook_events")
def sweep_webhook_events() -> int:
    """Re-enqueue inbox events whose task was lost (see :func:`inbox.inbox_due`)."""
    due = inbox.inbox_due()
    sent = sum(webhook_event_enqueue(event_id) for event_id in due)
    if due:
        logger.info("Webhook sweep: %s event(s) due, %s enqueued", len(due), sent)
    return sent


@shared_task(name="billing.reconcile_subscriptions")
def reconcile_subscriptions(dry_run: bool = False) -> dict[str, int]:
    """Nightly: re-read every customer's subscriptions from Stripe and fix drift."""
    results = sync.subscriptions_reconcile(dry_run=dry_run)
    changed = sum(1 for r in results if r.changes)
    errors = sum(1 for r in results if r.outcome.startswith("error"))
    logger.info("Reconcile: %s account(s), %s changed, %s error(s)", len(results), changed, errors)
    return {"accounts": len(results), "changed": changed, "errors": errors}
