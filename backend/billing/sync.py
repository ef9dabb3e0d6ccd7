"""Customer-level sync with Stripe, and the webhook inbox's bookkeeping.

The worker never trusts an event's payload for the entitlement: it re-reads the
customer's subscriptions from Stripe and stores what :func:`entitlement.choose_subscription`
picks, under the customer's lock (the ``BillingAccount`` row, ``select_for_update``). The
outcome therefore depends only on what Stripe has when the worker runs, not on the order
in which events arrive or how often: a late ``created`` after ``deleted`` or an
``invoice.paid`` before ``customer.subscription.created`` end in Stripe's real state.

The same function serves ``POST /api/stripe/subscription/sync/`` (:func:`account_sync`),
the webhook worker (:func:`event_apply`) and the nightly reconciliation
(:func:`subscriptions_reconcile`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User

from . import entitlement, stripe_client
from .djstripe_sync import djstripe_sync
from .models import BillingAccount, WebhookEvent
from .services import _locked_account, account_apply_subscription

logger = logging.getLogger(__name__)

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
CUSTOMER_DELETED = "customer.deleted"
#: Event types the worker acts on; the receiver stores any other type as ``ignored``.
HANDLED_TYPES = SUBSCRIPTION_EVENTS | INVOICE_EVENTS | {CUSTOMER_DELETED}

#: The stored columns a sync may change, compared to report drift.
TRACKED = ("subscription_id", "stripe_status", "current_period_end", "cancel_at_period_end",
           "premium_until")  # fmt: skip


@dataclass
class SyncResult:
    """What one customer-level sync found and did."""

    customer_id: str
    outcome: str  # synced | unchanged | no_account | customer_gone | other_customer | ...
    account_id: int | None = None
    user_id: int | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def describe(self) -> str:
        if not self.changes:
            return f"{self.customer_id}: {self.outcome}"
        diff = ", ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in self.changes.items())
        return f"{self.customer_id} (user {self.user_id}): {self.outcome}: {diff}"


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return repr(value)


def _id(value: Any) -> str:
    """An id from a field that may hold the id or the expanded object."""
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


# --- The customer-level sync ---------------------------------------------------------


def _diff(account: BillingAccount, snap: entitlement.Snapshot) -> dict[str, tuple[Any, Any]]:
    return {
        name: (getattr(account, name), getattr(snap, name))
        for name in TRACKED
        if getattr(account, name) != getattr(snap, name)
    }


def account_sync(account: BillingAccount, *, dry_run: bool = False) -> SyncResult:
    """Re-read a locked account's subscriptions from Stripe and store the chosen one.

    The caller holds the account's row lock in a transaction. Stripe errors propagate
    (the API view turns them into 502/503, the worker retries). A customer with no
    subscription at all leaves the row as it is.
    """
    customer_id = account.stripe_customer_id or ""
    result = SyncResult(customer_id, "unchanged", account.pk, account.user_id)
    if not customer_id:
        result.outcome = "no_customer"
        return result
    subscriptions = stripe_client.subscription_list(customer_id)
    chosen = entitlement.choose_subscription(subscriptions)  # type: ignore[arg-type]
    if chosen is None:
        result.outcome = "no_subscription"
        return result
    result.changes = _diff(account, entitlement.snapshot(chosen))
    if result.changes:
        result.outcome = "would_change" if dry_run else "synced"
    if not dry_run:
        account_apply_subscription(account, chosen)
    return result


def _customer_owner(customer_id: str, hint_user_id: str | None) -> tuple[str | None, bool]:
    """``(user id, customer still exists)`` for a customer no account is linked to yet.

    Read from Stripe: the customer's ``metadata.user_id`` (set by ``_customer_ensure``),
    else the id the event carried (subscription metadata). A deleted customer is never
    adopted, so a late event cannot revive it.
    """
    try:
        customer = stripe_client.customer_retrieve(customer_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing" or exc.http_status == 404:
            return None, False
        raise
    data = customer.to_dict()  # stripe-python objects are not dicts: no .get()
    if data.get("deleted"):
        return None, False
    metadata = data.get("metadata") or {}
    return (metadata.get("user_id") or hint_user_id), True


def _locked_account_for(
    customer_id: str, hint_user_id: str | None
) -> tuple[BillingAccount | None, str]:
    """The customer's account, locked, or ``(None, why)``. Adopts an unlinked customer."""
    account = (
        BillingAccount.objects.select_for_update().filter(stripe_customer_id=customer_id).first()
    )
    if account is not None:
        return account, "linked"
    user_id, alive = _customer_owner(customer_id, hint_user_id)
    if not alive:
        return None, "customer_gone"
    user = User.objects.filter(pk=user_id).first() if user_id and str(user_id).isdigit() else None
    if user is None:
        return None, "no_account"
    # Waits here while a purchase of this user still holds the lock; the row read after
    # the wait carries the customer id that purchase stored.
    account = _locked_account(user)
    if account.stripe_customer_id == customer_id:
        return account, "linked"
    if account.stripe_customer_id:
        logger.warning(
            "Customer %s says user %s, whose account has customer %s: not touched",
            customer_id, user.pk, account.stripe_customer_id,
        )  # fmt: skip
        return None, "other_customer"
    # The customer was made but the request that made it did not store it (a crash or a
    # rollback after Stripe answered): it is this user's.
    account.stripe_customer_id = customer_id
    account.save(update_fields=["stripe_customer_id", "updated_at"])
    logger.info("Linked customer %s to user %s from Stripe's metadata", customer_id, user.pk)
    return account, "adopted"


def customer_sync(
    *, customer_id: str, hint_user_id: str | None = None, dry_run: bool = False
) -> SyncResult:
    """Bring the stored entitlement of one Stripe customer in line with Stripe."""
    with transaction.atomic():
        account, how = _locked_account_for(customer_id, hint_user_id)
        if account is None:
            return SyncResult(customer_id, how)
        result = account_sync(account, dry_run=dry_run)
        if how == "adopted" and result.outcome == "unchanged":
            result.outcome = "adopted"
        return result


def customer_delete(*, customer_id: str) -> SyncResult:
    """``customer.deleted``: forget the customer id, bump the generation, premium off.

    The bumped ``customer_generation`` gives the user's next customer a new idempotency
    key. Stripe is asked first: a customer that still exists is synced instead.
    """
    with transaction.atomic():
        account = (
            BillingAccount.objects.select_for_update()
            .filter(stripe_customer_id=customer_id)
            .first()
        )
        if account is None:
            return SyncResult(customer_id, "no_account")
        _, alive = _customer_owner(customer_id, None)
        if alive:
            logger.warning("customer.deleted for %s, but Stripe still has it: synced", customer_id)
            return account_sync(account)
        before = {name: getattr(account, name) for name in TRACKED}
        account.stripe_customer_id = None
        account.customer_generation = F("customer_generation") + 1
        account.stripe_status = "canceled" if account.subscription_id else ""
        account.cancel_at_period_end = False
        account.premium_until = None
        account.synced_at = timezone.now()
        account.save(
            update_fields=[
                "stripe_customer_id",
                "customer_generation",
                "stripe_status",
                "cancel_at_period_end",
                "premium_until",
                "synced_at",
                "updated_at",
            ]
        )
        account.refresh_from_db()
        changes = {
            name: (value, getattr(account, name))
            for name, value in before.items()
            if value != getattr(account, name)
        }
        return SyncResult(customer_id, "customer_deleted", account.pk, account.user_id, changes)


def subscriptions_reconcile(*, dry_run: bool = False) -> list[SyncResult]:
    """Re-read every account that has a Stripe customer; fix (or, dry, report) the drift."""
    results = []
    customers = (
        BillingAccount.objects.exclude(stripe_customer_id__isnull=True)
        .exclude(stripe_customer_id="")
        .order_by("pk")
        .values_list("stripe_customer_id", flat=True)
    )
    for maybe_id in customers.iterator():
        customer_id = str(maybe_id)  # NULL and "" are excluded above
        try:
            result = customer_sync(customer_id=customer_id, dry_run=dry_run)
        except stripe.StripeError as exc:
            result = SyncResult(customer_id, f"error: {exc.__class__.__name__}")
            logger.warning("Reconcile %s failed: %s", customer_id, exc)
        if result.changes or result.outcome.startswith("error"):
            logger.info("Reconcile %s", result.describe())
        results.append(result)
    return results


# --- Webhook events ------------------------------------------------------------------


def _event_user_hint(obj: Mapping[str, Any]) -> str | None:
    """``metadata.user_id`` from a subscription or, for an invoice, its subscription's."""
    candidates = [
        obj.get("metadata"),
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata"),
        (obj.get("subscription_details") or {}).get("metadata"),
    ]
    for metadata in candidates:
        if isinstance(metadata, Mapping) and metadata.get("user_id"):
            return str(metadata["user_id"])
    return None


def event_apply(event: WebhookEvent) -> SyncResult | None:
    """Act on one stored event; None for a type the worker does not handle."""
    obj = (event.payload.get("data") or {}).get("object") or {}
    if event.type == CUSTOMER_DELETED:
        return customer_delete(customer_id=_id(obj.get("id")))
    if event.type in SUBSCRIPTION_EVENTS or event.type in INVOICE_EVENTS:
        customer_id = _id(obj.get("customer"))
        if not customer_id:
            return SyncResult("", "no_customer")
        result = customer_sync(customer_id=customer_id, hint_user_id=_event_user_hint(obj))
        if event.type in INVOICE_EVENTS and obj.get("id"):
            _mirror_invoice(str(obj["id"]))
        return result
    return None


def _mirror_invoice(invoice_id: str) -> None:
    """Best effort: the dj-stripe mirror of the invoice as Stripe has it now."""
    try:
        djstripe_sync(stripe_client.invoice_retrieve(invoice_id))
    except stripe.StripeError as exc:
        logger.warning("Invoice %s not mirrored: %s", invoice_id, exc)


# --- The inbox's states ----------------------------------------------------------------

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
    _finish(event, Status.IGNORED if ignored else Status.DONE)


def inbox_failed(event: WebhookEvent, error: BaseException) -> None:
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
