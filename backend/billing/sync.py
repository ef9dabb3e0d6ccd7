"""Customer-level sync: bring the stored entitlement of a Stripe customer in line with Stripe.

Nothing here trusts an event's payload for the entitlement: it re-reads the customer's
subscriptions from Stripe and stores what :func:`entitlement.choose_subscription` picks,
under the customer's lock (the ``BillingAccount`` row, ``select_for_update``; see
:mod:`billing.account_state`). The outcome therefore depends only on what Stripe has when
the sync runs, not on the order in which events arrive or how often: a late ``created``
after ``deleted`` or an ``invoice.paid`` before ``customer.subscription.created`` end in
Stripe's real state.

The same functions serve ``POST /api/stripe/subscription/sync/`` (:func:`account_sync`,
through :mod:`billing.services`), the webhook worker (:func:`customer_sync`,
:func:`customer_delete` and :func:`invoice_sync`, through :mod:`billing.events`) and the
nightly reconciliation (:func:`subscriptions_reconcile`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stripe
from django.db import transaction

from accounts.models import User

from . import entitlement, stripe_client
from .account_state import (
    account_apply_payment_problem,
    account_apply_subscription,
    account_changes,
    account_forget_customer,
    account_link_customer,
    account_lock,
    account_lock_for_customer,
    account_mark_had_subscription,
)
from .djstripe_sync import djstripe_sync
from .models import BillingAccount
from .presenters import invoice_intent
from .stripe_objects import field as stripe_field
from .stripe_objects import iso, object_id

logger = logging.getLogger(__name__)


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
        return str(iso(value))
    return repr(value)


# --- The customer-level sync ---------------------------------------------------------


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
    result.changes = account_changes(account, entitlement.snapshot(chosen))
    problem = payment_problem_read(chosen)
    if account.payment_problem_kind != (problem.kind if problem else ""):
        result.changes["payment_problem"] = (
            account.payment_problem_kind or None,
            problem.kind if problem else None,
        )
    if result.changes:
        result.outcome = "would_change" if dry_run else "synced"
    if not dry_run:
        account_apply_subscription(account, chosen)
        account_apply_payment_problem(account, problem)
        if not account.had_subscription and had_subscription_read(customer_id, subscriptions):
            account_mark_had_subscription(account)
    return result


def had_subscription_read(customer_id: str, subscriptions: list[Any]) -> bool:
    """Whether the customer ever had a subscription past its first payment, or a trial.

    The subscriptions say so themselves (:func:`entitlement.had_subscription`), except a
    ``canceled`` one, which may have been a purchase given up: then a paid invoice of the
    customer decides (one Stripe call, made only while the account is not marked yet).
    """
    if any(entitlement.had_subscription(sub) for sub in subscriptions):
        return True
    if not any(stripe_field(sub, "status") == "canceled" for sub in subscriptions):
        return False
    invoices, _ = stripe_client.invoice_list(customer_id, limit=20)
    return any(stripe_field(invoice, "status") == "paid" for invoice in invoices)


def payment_problem_read(subscription: Any) -> entitlement.PaymentProblem | None:
    """The payment problem of ``subscription`` as Stripe has it now (see
    :func:`entitlement.payment_problem`).

    Costs one Stripe call, and only for a subscription in dunning (``past_due``/``unpaid``):
    its latest invoice with the PaymentIntent expanded. Any other status has no problem.
    """
    if stripe_field(subscription, "status") not in entitlement.PROBLEM_STATUSES:
        return None
    invoice_id = object_id(stripe_field(subscription, "latest_invoice"))
    if not invoice_id:
        return None
    invoice = stripe_client.invoice_retrieve(invoice_id, expand=stripe_client.INVOICE_INTENT_EXPAND)
    return entitlement.payment_problem(subscription, invoice, invoice_intent(invoice))


def _customer_owner(customer_id: str, hint_user_id: str | None) -> tuple[str | None, bool]:
    """``(user id, customer still exists)`` for a customer no account is linked to yet.

    Read from Stripe: the customer's ``metadata.user_id`` (set when
    :mod:`billing.services` creates the customer), else the id the event carried
    (subscription metadata). A deleted customer is never adopted, so a late event cannot
    revive it.
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


def _customer_account_lock(
    customer_id: str, hint_user_id: str | None
) -> tuple[BillingAccount | None, str]:
    """The customer's account, locked, or ``(None, why)``. Adopts an unlinked customer."""
    account = account_lock_for_customer(customer_id)
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
    account = account_lock(user)
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
    account_link_customer(account, customer_id)
    logger.info("Linked customer %s to user %s from Stripe's metadata", customer_id, user.pk)
    return account, "adopted"


def customer_sync(
    *, customer_id: str, hint_user_id: str | None = None, dry_run: bool = False
) -> SyncResult:
    """Bring the stored entitlement of one Stripe customer in line with Stripe."""
    with transaction.atomic():
        account, how = _customer_account_lock(customer_id, hint_user_id)
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
        account = account_lock_for_customer(customer_id)
        if account is None:
            return SyncResult(customer_id, "no_account")
        _, alive = _customer_owner(customer_id, None)
        if alive:
            logger.warning("customer.deleted for %s, but Stripe still has it: synced", customer_id)
            return account_sync(account)
        changes = account_forget_customer(account)
        return SyncResult(customer_id, "customer_deleted", account.pk, account.user_id, changes)


def invoice_sync(invoice_id: str) -> None:
    """Best effort: the dj-stripe mirror of the invoice as Stripe has it now."""
    try:
        djstripe_sync(stripe_client.invoice_retrieve(invoice_id))
    except stripe.StripeError as exc:
        logger.warning("Invoice %s not mirrored: %s", invoice_id, exc)


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
