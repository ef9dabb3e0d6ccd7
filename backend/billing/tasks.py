"""Celery tasks of billing: Stripe webhook events, the inbox sweep, the nightly reconciliation,
the billing e-mails (:mod:`billing.notifications`) and their sweep.

Tasks take ids: an event moves through the inbox's states (:mod:`billing.inbox`) while
:mod:`billing.events` applies it; the reconciliation calls :mod:`billing.sync`. Retries and
backoff are declared on the task.
``acks_late`` with ``reject_on_worker_lost`` (settings) redeliver a task whose worker died;
the inbox claim makes a redelivered or duplicated task harmless.

**A crash costs seconds.** Each claim records its holder (:mod:`billing.holders`): the
redelivered task (same id) takes its event back at once, and a worker that starts, like the
sweep, releases the claims of this host's dead processes (:func:`webhook_inbox_recover`).
For that, no two deliveries of a task may overlap: the tasks here have a hard
:data:`TASK_TIME_LIMIT` and a retry countdown of at most :data:`RETRY_BACKOFF_MAX`, which
together stay below the broker's visibility timeout (otherwise the claims record no task id,
and a crash waits for ``BILLING_WEBHOOK_STALE_AFTER`` as before).

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
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from . import events, holders, inbox, notifications, sync

logger = logging.getLogger(__name__)

#: The database busy, down or restarted (a connection it closed answers InterfaceError).
DATABASE_DOWN = (OperationalError, InterfaceError)
#: Errors worth retrying: Stripe unreachable, rate-limited or 5xx; the database busy/down.
RETRYABLE = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    *DATABASE_DOWN,
)
MAX_RETRIES = 8
#: Longest countdown of a retry (exponential backoff with jitter below it).
RETRY_BACKOFF_MAX = 300
#: Hard limit of one run of a task here: the pool process is killed after it. An event costs
#: a few Stripe calls of at most STRIPE_TIMEOUT_SECONDS x (STRIPE_MAX_NETWORK_RETRIES + 1)
#: each, a drain DRAIN_SECONDS plus one event. With RETRY_BACKOFF_MAX it stays below the
#: Redis visibility timeout (600 s), so a redelivery never overlaps a live run.
TASK_TIME_LIMIT = 240

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


class ClaimLost(Exception):
    """The claim went to another holder while this one applied the event (it was stale)."""


def _event_finish(event: inbox.WebhookEvent) -> str:
    """Apply a claimed event and end its claim: ``done``, ``ignored``, ``failed`` (or
    ``skipped`` when the claim was taken over meanwhile).

    The effect and the end of the claim commit in one transaction, or neither does: a worker
    that dies (or loses the database) in between leaves nothing applied, so the delivery
    that takes the event back applies it once, and a holder whose claim was taken over
    rolls its effect back. A transient error (:data:`RETRYABLE`) propagates with the claim
    still held: the caller decides between a retry and giving up.
    """
    try:
        with transaction.atomic():
            result = events.event_apply(event)
            if result is not None:
                # After the effect and in its transaction: the e-mails the event asks for,
                # one row per (event, kind) however often it is processed, each handed to
                # its own task once committed (billing/notifications.py).
                for email_id in notifications.event_emails_create(event=event):
                    transaction.on_commit(functools.partial(billing_email_enqueue, email_id))
            if not inbox.inbox_done(event, ignored=result is None):
                raise ClaimLost(event.pk)
    except ClaimLost:
        return "skipped"
    except RETRYABLE:
        raise
    except Exception as exc:
        # Not transient (a bug, Stripe refusing the request): retrying would not help.
        logger.exception("Stripe event %s (%s) failed", event.pk, event.type)
        inbox.inbox_failed(event, exc)
        return "failed"
    if result is None:
        return "ignored"
    # Logged once the effect is committed: one line per event applied (make chaos counts them).
    logger.info("Stripe event %s (%s): %s", event.pk, event.type, result.describe())
    return "done"


@shared_task(
    bind=True,
    name="billing.process_webhook_event",
    acks_late=True,
    time_limit=TASK_TIME_LIMIT,
    autoretry_for=RETRYABLE,
    retry_backoff=2,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def process_webhook_event(self, event_id: str) -> str:
    """Process one inbox event by id; returns the status it ended in (or ``skipped``).

    Claimed atomically first, so duplicates (Stripe redelivering, the sweep, a replay,
    a drain) do nothing while another copy runs or after it is done; this task's own
    redelivery or retry takes back the claim its earlier run left behind.
    """
    event = inbox.inbox_claim(event_id, holder=holders.task_holder(self))
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


@shared_task(
    bind=True,
    name="billing.drain_webhook_inbox",
    acks_late=True,
    time_limit=TASK_TIME_LIMIT,
    autoretry_for=DATABASE_DOWN,
    retry_backoff=2,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def drain_webhook_inbox(self) -> int:
    """Process the events waiting in the inbox, oldest first; returns how many it took.

    Clears the wake-up mark first (an event stored from now on wakes another drain, and one
    stored before is found below). Each event is claimed like :func:`process_webhook_event`
    claims it, so drains running side by side, the sweep's tasks and redeliveries never
    process an event twice. An event that fails transiently is released and handed to its
    own task, which retries it with backoff. With the database gone the drain itself retries
    with backoff; a redelivered or retried drain first takes back the event it held.
    """
    _wake_clear(_wake_store())
    holder = holders.task_holder(self)
    deadline = time.monotonic() + DRAIN_SECONDS
    taken = 0
    while event_ids := inbox.inbox_waiting(limit=DRAIN_BATCH, holder=holder):
        for event_id in event_ids:
            event = inbox.inbox_claim(event_id, holder=holder)
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
    """Re-enqueue inbox events whose task was lost (see :func:`inbox.inbox_due`) or whose
    worker process is gone on this host (:func:`inbox.inbox_orphans`)."""
    due = inbox.inbox_orphans() + inbox.inbox_due()
    sent = sum(webhook_event_enqueue(event_id) for event_id in due)
    if due:
        logger.info("Webhook sweep: %s event(s) due, %s enqueued", len(due), sent)
    return sent


@worker_ready.connect
def webhook_inbox_recover(**_: Any) -> int:
    """What a Celery worker does as it starts, so that its previous run's death (SIGKILL, the
    OOM killer) costs seconds instead of the broker's visibility timeout or the next sweep;
    returns how many events it enqueued.

    It takes back the claims of this host's processes that are gone, and wakes a drain: the
    wake-up the dead run had taken died with it, and its mark would hold new ones back for a
    while. Runs in the worker's main process (``worker_ready``); never stops the worker from
    starting (with the database or the broker away, the sweep does it later).
    """
    emails: list[int] = []
    try:
        orphans = inbox.inbox_orphans()
        # The mails a dead process left ``sending`` are sent again (billing/notifications.py).
        emails = notifications.emails_orphans()
    except DATABASE_DOWN as exc:
        logger.warning("Webhook claims not recovered at start (%s: %s)", type(exc).__name__, exc)
        orphans = []
    finally:
        if not connection.in_atomic_block:  # (a test's transaction)
            connection.close()  # the main process keeps no connection for the pool to inherit
    sent = sum(webhook_event_enqueue(event_id) for event_id in orphans)
    if orphans:
        logger.info("Worker start: %s claim(s) of dead processes released, %s enqueued",
                    len(orphans), sent)  # fmt: skip
    if emails:
        mailed = sum(billing_email_enqueue(email_id) for email_id in emails)
        logger.info("Worker start: %s e-mail(s) of dead processes released, %s enqueued",
                    len(emails), mailed)  # fmt: skip
    store = _wake_store()
    if store is not None:
        _wake_clear(store)
        try:
            drain_webhook_inbox.apply_async(retry=False)
        except Exception as exc:
            logger.warning("Worker start: no drain published (%s: %s)", type(exc).__name__, exc)
    return sent


# --- Billing e-mails (billing/notifications.py) -------------------------------------------


def billing_email_enqueue(email_id: int) -> bool:
    """Hand a billing e-mail to a worker; False (logged) if the broker cannot take it now.

    Never raises and never waits long: the row is stored, and the e-mail sweep enqueues it
    again once the broker is back.
    """
    try:
        send_billing_email.apply_async(args=(email_id,), retry=False)
    except Exception as exc:
        logger.warning(
            "Billing e-mail %s stored but not enqueued (%s: %s); the sweep will pick it up",
            email_id,
            exc.__class__.__name__,
            exc,
        )
        return False
    return True


@shared_task(
    bind=True,
    name="billing.send_billing_email",
    acks_late=True,
    time_limit=TASK_TIME_LIMIT,
    # The database down: retried quietly with backoff (the row is untouched or still held by
    # this task id, which the retry takes back).
    autoretry_for=DATABASE_DOWN,
    retry_backoff=2,
    # Declared, so that holders.task_holder sees that no retry waits past the broker's
    # visibility timeout (every countdown below is capped by it too).
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    # The row counts the attempts (BILLING_EMAIL_MAX_ATTEMPTS), not the message.
    max_retries=None,
)
def send_billing_email(self, email_id: int, delivered: bool = False) -> str:
    """Send one billing e-mail by id; returns ``sent``, ``failed``, ``skipped`` (not due,
    someone else's, or over) or ``pending`` (a backoff longer than :data:`RETRY_BACKOFF_MAX`:
    the sweep enqueues it when due), or raises Celery's Retry.

    Claimed first (:func:`notifications.email_claim`), so a duplicated or redelivered task,
    the sweep's copy, or a task of a replayed event never sends a mail twice. An SMTP failure
    puts the mail back ``pending`` and retries this task after an exponential backoff
    (:func:`notifications.email_backoff`); its own redelivery or retry (same task id) takes
    back the claim its earlier run left ``sending`` and sends again; after
    ``BILLING_EMAIL_MAX_ATTEMPTS`` attempts, or a refusal for good, it is ``failed`` (the
    admin's Retry sends it again).

    ``delivered``: the relay took the message in an earlier run of this task, but the database
    was down when it came to record ``sent``; this run only records it, it never delivers again.
    """
    holder = holders.task_holder(self)
    if delivered:
        recorded = notifications.email_delivered(email_id, task_id=holder.task_id)
        return "sent" if recorded else "skipped"
    email = notifications.email_claim(email_id, holder=holder)
    if email is None:
        return "skipped"
    # QUIT comes after ``sent`` is stored (notifications.mail_connection).
    connection = None
    try:
        try:
            # A settings error (a backend that cannot be made) is caught below like any other.
            connection = notifications.mail_connection()
            notifications.email_deliver(email, connection=connection)
        except notifications.SEND_ERRORS as exc:
            out_of_attempts = email.attempts >= settings.BILLING_EMAIL_MAX_ATTEMPTS
            if out_of_attempts or notifications.email_error_permanent(exc):
                notifications.email_failed(email, exc)
                return "failed"
            countdown = notifications.email_backoff(attempts=email.attempts)
            notifications.email_release(email, exc, retry_in=countdown)
            if countdown > RETRY_BACKOFF_MAX:
                # A longer wait must not sit in the broker past its visibility timeout (it would
                # be delivered twice): the row keeps the due time and the sweep enqueues it then.
                return "pending"
            # If the retry cannot be published, Celery drops this message: the row is pending
            # and the sweep enqueues it once it is overdue.
            raise self.retry(countdown=countdown) from exc
        except Exception as exc:
            # Not SMTP (a template or a bug): another attempt would fail the same way.
            logger.exception("Billing e-mail %s (%s) could not be sent", email.pk, email.kind)
            notifications.email_failed(email, exc)
            return "failed"
        try:
            notifications.email_sent(email)
        except DATABASE_DOWN as exc:
            # Delivered, not recorded: the retry (same task id, its claim) records only. Left to
            # autoretry_for, the retry would take its claim back and deliver a second time.
            raise self.retry(
                args=(email_id,), kwargs={"delivered": True}, exc=exc, countdown=5
            ) from exc
        return "sent"
    finally:
        notifications.mail_connection_close(connection)


@shared_task(name="billing.sweep_billing_emails")
def sweep_billing_emails() -> int:
    """Re-enqueue billing e-mails whose task was lost, and fail those a dead worker left
    ``sending`` (see :func:`notifications.emails_due`); returns how many it enqueued."""
    due = notifications.emails_due()
    sent = sum(billing_email_enqueue(email_id) for email_id in due)
    if due:
        logger.info("E-mail sweep: %s e-mail(s) due, %s enqueued", len(due), sent)
    return sent


@shared_task(name="billing.reconcile_subscriptions")
def reconcile_subscriptions(dry_run: bool = False) -> dict[str, int]:
    """Nightly: re-read every customer's subscriptions from Stripe and fix drift."""
    results = sync.subscriptions_reconcile(dry_run=dry_run)
    changed = sum(1 for r in results if r.changes)
    errors = sum(1 for r in results if r.outcome.startswith("error"))
    logger.info("Reconcile: %s account(s), %s changed, %s error(s)", len(results), changed, errors)
    return {"accounts": len(results), "changed": changed, "errors": errors}
