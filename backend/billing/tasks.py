"""Celery tasks of billing: Stripe webhook events, the inbox sweep, the nightly reconciliation.

Tasks take ids: an event moves through the inbox's states (:mod:`billing.inbox`) while
:mod:`billing.events` applies it; the reconciliation calls :mod:`billing.sync`. Retries and
backoff are declared on the task.
``acks_late`` with ``reject_on_worker_lost`` (settings) redeliver a task whose worker died;
the inbox claim makes a redelivered or duplicated task harmless.

**The hand-off from the receiver.** With a Redis broker (production, ``make stack``) the
inbox itself is the queue and the broker only carries wake-ups: the receiver sets a mark in
the broker's Redis (``SET NX``, :data:`WAKE_KEY`) and publishes :func:`drain_webhook_inbox`
only when the mark was not there already, so a burst of deliveries costs one Redis command
each and a handful of messages, not a Celery message per event. The drain clears the mark
*before* it looks at the inbox, so an event stored while a mark stands is always seen by a
drain that starts after it. With any other broker (``make run``'s filesystem transport)
each event gets its own :func:`process_webhook_event` message, as the sweep, the admin's
Replay and the retries always do.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import redis
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

#: The "a drain is on its way" mark, in the broker's Redis.
WAKE_KEY = "billing:webhook-inbox:wake"
#: A mark whose drain never came (its message lost with a dead broker) stops holding back
#: new wake-ups after this long; the sweep covers the events stored meanwhile.
WAKE_TTL_MS = 10_000
#: A drain takes this many events per look at the inbox...
DRAIN_BATCH = 100
#: ...and after this long hands over to a fresh drain, so that no message stays unacknowledged
#: for long (the broker would deliver it again after its visibility timeout).
DRAIN_SECONDS = 60.0
#: First retry of an event a drain released after a transient error (the task's own backoff
#: takes over from there).
DRAIN_RETRY_COUNTDOWN = 2
#: Longest wait, connecting or answering, for the wake-up mark's Redis.
WAKE_TIMEOUT_SECONDS = 1.0


def webhook_event_enqueue(event_id: str) -> bool:
    """Hand an inbox event to a worker; False (logged) if the broker cannot take it now.

    Never raises and never waits long: the event is stored, and the sweep enqueues it
    again once the broker is back.
    """
    try:
        process_webhook_event.apply_async(args=(event_id,), retry=False)
    except Exception as exc:
        _not_enqueued(event_id, exc)
        return False
    return True


def webhook_inbox_wake(event_id: str) -> bool:
    """Tell the workers that ``event_id`` waits in the inbox; False (logged) if the broker
    cannot take it now. Never raises and never waits long (the sweep covers a failure).

    A wake-up is published only if no other is on its way (see the module docstring).
    """
    store = _wake_store()
    if store is None:
        return webhook_event_enqueue(event_id)
    try:
        if not store.set(WAKE_KEY, event_id, nx=True, px=WAKE_TTL_MS):
            return True  # a drain is on its way and will find this event
    except Exception as exc:
        # Redis did not answer: nothing was marked, so there is nothing to clear (and a
        # second call on a dead socket would hold the webhook's answer twice as long).
        _not_enqueued(event_id, exc)
        return False
    try:
        drain_webhook_inbox.apply_async(retry=False)
    except Exception as exc:
        _wake_clear(store)  # marked but not published: the next event tries again
        _not_enqueued(event_id, exc)
        return False
    return True


def _not_enqueued(event_id: str, exc: BaseException) -> None:
    logger.warning(
        "Stripe event %s stored but not enqueued (%s: %s); the sweep will pick it up",
        event_id,
        exc.__class__.__name__,
        exc,
    )


def _wake_store() -> redis.Redis | None:
    """A client of the broker's Redis for the wake-up mark; None if the broker is not Redis."""
    conf = process_webhook_event.app.conf
    options: dict[str, Any] = conf.broker_transport_options or {}
    # At most a second each: the mark is a hint (the sweep covers a lost one), never worth
    # holding a gunicorn worker for the broker's own, longer, timeouts.
    return _wake_client(
        str(conf.broker_url or ""),
        min(float(options.get("socket_connect_timeout") or 1), WAKE_TIMEOUT_SECONDS),
        min(float(options.get("socket_timeout") or 1), WAKE_TIMEOUT_SECONDS),
    )


@functools.lru_cache(maxsize=8)
def _wake_client(broker_url: str, connect_timeout: float, timeout: float) -> redis.Redis | None:
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    # Short timeouts, like the broker's: a dead Redis must not hold the webhook's answer.
    return redis.Redis.from_url(
        broker_url, socket_connect_timeout=connect_timeout, socket_timeout=timeout
    )


def _wake_clear(store: redis.Redis | None) -> None:
    if store is None:
        return
    try:
        store.delete(WAKE_KEY)
    except redis.RedisError as exc:  # the mark expires by itself
        logger.warning("Webhook wake-up mark not cleared (%s: %s)", exc.__class__.__name__, exc)


def _event_finish(event: inbox.WebhookEvent) -> str:
    """Apply a claimed event and end its claim: ``done``, ``ignored`` or ``failed``.

    A transient error (:data:`RETRYABLE`) propagates with the claim still held: the caller
    decides between a retry and giving up.
    """
    try:
        result = events.event_apply(event)
    except RETRYABLE:
        raise
    except Exception as exc:
        # Not transient (a bug, Stripe refusing the request): retrying would not help.
        logger.exception("Stripe event %s (%s) failed", event.pk, event.type)
        inbox.inbox_failed(event, exc)
        return "failed"
    if result is None:
        inbox.inbox_done(event, ignored=True)
        return "ignored"
    logger.info("Stripe event %s (%s): %s", event.pk, event.type, result.describe())
    inbox.inbox_done(event)
    return "done"


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
    a redelivered task, a drain) do nothing while another copy runs or after it is done.
    """
    event = inbox.inbox_claim(event_id)
    if event is None:
        return "skipped"
    try:
        return _event_finish(event)
    except RETRYABLE as exc:
        out_of_retries = self.request.retries >= self.max_retries
        if out_of_retries or event.attempts >= settings.BILLING_WEBHOOK_MAX_ATTEMPTS:
            inbox.inbox_failed(event, exc)
            return "failed"
        inbox.inbox_release(event, exc)
        raise  # autoretry_for schedules the retry with backoff


@shared_task(name="billing.drain_webhook_inbox", acks_late=True)
def drain_webhook_inbox() -> int:
    """Process the events waiting in the inbox, oldest first; returns how many it took.

    Clears the wake-up mark first (an event stored from now on wakes another drain, and one
    stored before is found below). Each event is claimed like :func:`process_webhook_event`
    claims it, so drains running side by side, the sweep's tasks and redeliveries never
    process an event twice. An event that fails transiently is released and handed to its
    own task, which retries it with backoff.
    """
    _wake_clear(_wake_store())
    deadline = time.monotonic() + DRAIN_SECONDS
    taken = 0
    while event_ids := inbox.inbox_waiting(limit=DRAIN_BATCH):
        for event_id in event_ids:
            event = inbox.inbox_claim(event_id)
            if event is None:
                continue  # another drain or task has it
            taken += 1
            try:
                _event_finish(event)
            except RETRYABLE as exc:
                if event.attempts >= settings.BILLING_WEBHOOK_MAX_ATTEMPTS:
                    inbox.inbox_failed(event, exc)
                    continue
                inbox.inbox_release(event, exc)
                try:
                    process_webhook_event.apply_async(
                        args=(event_id,), countdown=DRAIN_RETRY_COUNTDOWN, retry=False
                    )
                except Exception as publish_error:
                    _not_enqueued(event_id, publish_error)
        if time.monotonic() > deadline:
            # Still busy: a fresh drain takes the rest, this one's message is acknowledged.
            drain_webhook_inbox.apply_async(retry=False)
            break
    return taken


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
