"""The webhook inbox's states: what happens to a ``WebhookEvent`` row after it is stored.

The receiver (:mod:`billing.webhooks`) adds an event with :func:`inbox_add` as ``received``
(or ``ignored`` for a type :mod:`billing.events` does not handle). From there::

    received --inbox_claim--> processing --inbox_done----> done | ignored
                                         --inbox_failed--> failed
                                         --inbox_release-> received  (the retry claims it)
    processing, by the same task --inbox_claim--> processing  (redelivered: its worker died)
    processing, claimed too long ago --inbox_claim--> processing  (its worker died)
    processing, its process gone --inbox_orphans--> received  (sweep, a worker starting)
    received or processing, waiting too long --inbox_due--> received  (failed: too many attempts)
    any --inbox_replay--> received  (the admin's Replay)

Each transition is an ``UPDATE`` conditioned on the state it leaves (the admin's Replay
excepted), so of concurrent workers, sweeps and redelivered tasks only one moves an event.
The Celery tasks (:mod:`billing.tasks`) and the admin (:mod:`billing.admin`) drive these;
the worker finds what to take with :func:`inbox_waiting` (the inbox is the queue).

**Who holds a claim.** A claim records its :class:`~billing.holders.Holder`: the Celery task
that made it and the process it runs in. A crashed worker's event therefore comes back in
seconds, not after ``BILLING_WEBHOOK_STALE_AFTER``: the task's redelivery (same task id)
takes it back at once, and a claim whose process is gone on this host is released by the
sweep and by a worker that starts (:func:`inbox_orphans`). A different task never takes a
live claim; the stale bound stays for holders nobody can judge from here (another machine).
Ending a claim (done, failed, released) is conditioned on the holder too, so a holder that
lost its claim cannot end the new holder's.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .holders import Holder, current_process, process_gone, scope
from .models import WebhookEvent

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status

#: The columns :func:`inbox_add` writes: every field of :class:`WebhookEvent` (a test keeps
#: this list whole, so a new column cannot be left to a default the raw INSERT skips).
ADD_FIELDS = (
    "id", "type", "payload", "livemode", "api_version", "created", "received_at", "status",
    "status_changed_at", "attempts", "last_error", "processed_at", "claimed_by", "claimed_process",
)  # fmt: skip


@functools.cache
def _add_sql(vendor: str) -> str:
    """The INSERT of :func:`inbox_add` (the same text for SQLite and PostgreSQL)."""
    quote = connection.ops.quote_name
    meta = WebhookEvent._meta
    column = {field.name: quote(str(field.column)) for field in meta.concrete_fields}
    columns = ", ".join(column[name] for name in ADD_FIELDS)
    values = ", ".join(["%s"] * len(ADD_FIELDS))
    # Only the model's own table and column names, quoted, go into the text; every value
    # is a query parameter.
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) "  # noqa: S608
        f"ON CONFLICT ({column['id']}) DO NOTHING"
    )


def inbox_add(
    *,
    event_id: str,
    event_type: str,
    payload_json: str,
    livemode: bool,
    api_version: str,
    created: datetime | None,
    status: str,
) -> bool:
    """Store a new event once; False if its id is in the inbox already (nothing changed).

    One ``INSERT ... ON CONFLICT (id) DO NOTHING``, on SQLite and PostgreSQL alike: no
    SELECT first and no savepoint in autocommit, so a delivery costs one round trip and two
    concurrent copies of an event store one row. ``payload_json`` is the body as Stripe
    sent it (already checked to be a JSON object), written without parsing it again.
    """
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = [
        event_id, event_type, payload_json, livemode, api_version, adapt(created), adapt(now),
        status, adapt(now), 0, "", None, "", "",
    ]  # fmt: skip
    # In autocommit the INSERT commits by itself. Inside a caller's transaction (a test, an
    # atomic block) it gets a savepoint, so that a failed insert leaves that transaction usable.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(_add_sql(connection.vendor), params)
        return bool(cursor.rowcount == 1)


def inbox_status(event_id: str) -> str | None:
    """The stored status of an event, None if the inbox does not have it."""
    return WebhookEvent.objects.filter(pk=event_id).values_list("status", flat=True).first()


def inbox_waiting(
    *, limit: int, holder: Holder | None = None, now: datetime | None = None
) -> list[str]:
    """Ids of the events a drain should take: first those ``holder``'s task claimed in an
    earlier delivery (it died, or was retried, holding them), then, oldest first, those never
    tried or left ``processing`` longer than ``BILLING_WEBHOOK_STALE_AFTER``.

    An event released for a retry (``received`` with attempts) is not among them: its own
    task comes back for it after the backoff.
    """
    now = now or timezone.now()
    own: list[str] = []
    if holder is not None and holder.task_id:
        mine = WebhookEvent.objects.filter(status=Status.PROCESSING, claimed_by=holder.task_id)
        own = list(mine.order_by("received_at").values_list("pk", flat=True)[:limit])
    stale = now - settings.BILLING_WEBHOOK_STALE_AFTER
    waiting = Q(status=Status.RECEIVED, attempts=0) | Q(
        status=Status.PROCESSING, status_changed_at__lt=stale
    )
    ids = WebhookEvent.objects.filter(waiting).order_by("received_at").values_list("pk", flat=True)
    return (own + [pk for pk in ids[:limit] if pk not in own])[:limit]


def inbox_claim(
    event_id: str, *, holder: Holder | None = None, now: datetime | None = None
) -> WebhookEvent | None:
    """Take an event for processing, atomically; None if someone else has it or it is over.

    One conditional UPDATE: a ``received`` event moves to ``processing``, and so does a
    ``processing`` one claimed by the same task as ``holder.task_id`` (a redelivery: the
    earlier delivery is dead) or claimed longer than ``BILLING_WEBHOOK_STALE_AFTER`` ago.
    Of any number of concurrent claims exactly one updates the row; it records ``holder``
    (by default: no task, this process).
    """
    now = now or timezone.now()
    holder = holder or Holder(process=current_process())
    stale = now - settings.BILLING_WEBHOOK_STALE_AFTER
    takeable = Q(status=Status.RECEIVED) | Q(status=Status.PROCESSING, status_changed_at__lt=stale)
    if holder.task_id:
        takeable |= Q(status=Status.PROCESSING, claimed_by=holder.task_id)
    claimed = WebhookEvent.objects.filter(takeable, pk=event_id).update(
        status=Status.PROCESSING,
        status_changed_at=now,
        attempts=F("attempts") + 1,
        claimed_by=holder.task_id,
        claimed_process=holder.process,
    )
    if claimed != 1:
        return None
    return WebhookEvent.objects.get(pk=event_id)


def _finish(event: WebhookEvent, status: str, error: str = "") -> bool:
    """Move a ``processing`` event (only) still held by ``event``'s holder to ``status``; an
    end state stamps ``processed_at``. False if the claim was no longer this holder's."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": status,
        "status_changed_at": now,
        "last_error": error[:4000],
    }
    if status in (Status.DONE, Status.IGNORED, Status.FAILED):
        fields["processed_at"] = now
    held = WebhookEvent.objects.filter(
        pk=event.pk,
        status=Status.PROCESSING,
        claimed_by=event.claimed_by,
        claimed_process=event.claimed_process,
    )
    if held.update(**fields) == 1:
        return True
    logger.warning("Stripe event %s: the claim was taken over; %s not recorded", event.pk, status)
    return False


def inbox_done(event: WebhookEvent, *, ignored: bool = False) -> bool:
    """Processed: ``done``, or ``ignored`` when the event turned out to need nothing. False
    (nothing changed) if the claim is no longer ``event``'s holder's."""
    return _finish(event, Status.IGNORED if ignored else Status.DONE)


def inbox_failed(event: WebhookEvent, error: BaseException) -> bool:
    """Given up (not transient, or out of retries): ``failed``, the error kept for the admin."""
    logger.error("Stripe event %s (%s) failed after %s attempt(s): %r",
                 event.pk, event.type, event.attempts, error)  # fmt: skip
    return _finish(event, Status.FAILED, f"{error.__class__.__name__}: {error}")


def inbox_release(event: WebhookEvent, error: BaseException) -> bool:
    """Back to ``received`` after a transient error, so that the retry can claim it."""
    logger.warning("Stripe event %s (%s) attempt %s failed, will retry: %r",
                   event.pk, event.type, event.attempts, error)  # fmt: skip
    return _finish(event, Status.RECEIVED, f"{error.__class__.__name__}: {error}")


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
    rows = WebhookEvent.objects.filter(waiting | stuck).values_list(
        "pk", "status", "status_changed_at", "attempts"
    )[:1000]
    return _requeue(list(rows), now=now, why="swept")


def inbox_orphans(*, now: datetime | None = None) -> list[str]:
    """Claims of processes that are gone on this host (a killed worker or pool process)
    go back to ``received`` (``failed`` over ``BILLING_WEBHOOK_MAX_ATTEMPTS``); their ids are
    returned for enqueueing. Claims made elsewhere are left alone (:func:`holders.process_gone`
    cannot tell from here): the redelivery or the stale bound covers those.
    """
    now = now or timezone.now()
    where = scope()
    if not where:
        return []
    held = WebhookEvent.objects.filter(
        status=Status.PROCESSING, claimed_process__startswith=where + "/"
    ).values_list("pk", "status", "status_changed_at", "attempts", "claimed_process")[:1000]
    gone = [row[:4] for row in held if process_gone(row[4])]
    return _requeue(gone, now=now, why="its worker process is gone")


def _requeue(rows: list[tuple[str, str, datetime, int]], *, now: datetime, why: str) -> list[str]:
    """``(pk, status, status_changed_at, attempts)`` rows back to ``received``, each only if
    unchanged since it was read (so one sweep takes it); ``failed`` when out of attempts."""
    due: list[str] = []
    for pk, status, changed, attempts in rows:
        mine = WebhookEvent.objects.filter(pk=pk, status=status, status_changed_at=changed)
        if attempts >= settings.BILLING_WEBHOOK_MAX_ATTEMPTS:
            mine.update(
                status=Status.FAILED,
                status_changed_at=now,
                processed_at=now,
                last_error=f"gave up after {attempts} attempts ({why})",
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
