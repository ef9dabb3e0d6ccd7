"""The user's billing row: locking it, and storing what the app derives from Stripe.

``BillingAccount`` holds the entitlement (``premium_until`` and the subscription columns)
and is also the per-customer lock: every write of billing state runs in a transaction that
holds the row ``SELECT ... FOR UPDATE`` (:func:`account_lock`,
:func:`account_lock_for_customer`), so two requests or workers of one customer never
interleave. Nothing here calls Stripe; the callers (:mod:`billing.services`,
:mod:`billing.sync`) bring the Stripe objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User

from . import entitlement, plans
from .djstripe_sync import djstripe_sync
from .exceptions import BillingError, stripe_errors
from .models import BillingAccount

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The stored columns a sync may change, compared to report drift.
TRACKED = ("subscription_id", "stripe_status", "current_period_end", "cancel_at_period_end",
           "premium_until", "trial_end", "schedule_id", "scheduled_change_at")  # fmt: skip
#: The columns of the plan, written with the subscription.
PLAN_FIELDS = ("price", "trial_end", "schedule_id", "scheduled_price", "scheduled_change_at")


def account_lock(user: User) -> BillingAccount:
    """The user's billing row, created if needed, locked until the transaction ends.

    Call it inside ``transaction.atomic()``: the ``SELECT ... FOR UPDATE`` holds until that
    transaction commits or rolls back, and a second caller for the same user waits here.
    """
    BillingAccount.objects.get_or_create(user=user)
    return BillingAccount.objects.select_for_update().get(user=user)


def account_work(user: User, work: Callable[[BillingAccount], T]) -> T:
    """Run ``work`` on the user's locked row (:func:`account_lock`), Stripe's errors as API
    answers (:func:`billing.exceptions.stripe_errors`).

    What was stored before a billing error is committed, not rolled back: what Stripe did
    before the error (a sync after a declined charge, a voided invoice) is what it now has.
    """
    with transaction.atomic():
        account = account_lock(user)
        try:
            with stripe_errors():
                return work(account)
        except BillingError as exc:
            failure = exc  # leaves the block normally: the transaction commits
    raise failure


def account_lock_for_customer(customer_id: str) -> BillingAccount | None:
    """The account linked to a Stripe customer, locked (see :func:`account_lock`); or None."""
    return BillingAccount.objects.select_for_update().filter(stripe_customer_id=customer_id).first()


def account_changes(
    account: BillingAccount, snap: entitlement.Snapshot
) -> dict[str, tuple[Any, Any]]:
    """``{column: (stored, new)}`` for the :data:`TRACKED` columns ``snap`` would change."""
    return {
        name: (getattr(account, name), getattr(snap, name))
        for name in TRACKED
        if getattr(account, name) != getattr(snap, name)
    }


#: The columns of the stored payment problem (the status object's ``payment_problem``).
PROBLEM_FIELDS = (
    "payment_problem_kind",
    "payment_problem_invoice_id",
    "payment_problem_amount_due",
    "payment_problem_currency",
    "payment_problem_next_attempt",
)


def account_apply_subscription(account: BillingAccount, subscription: Any) -> BillingAccount:
    """Store what the app derives from ``subscription`` and mirror it into dj-stripe.

    A stored payment problem outlives this only while the same subscription is still in
    dunning: whoever applies a subscription (a purchase, a cancel) need not read its invoice,
    and a problem of a paid, ended or replaced subscription is over.
    """
    snap = entitlement.snapshot(subscription)
    problem_over = bool(account.payment_problem_kind) and (
        snap.subscription_id != account.subscription_id
        or snap.stripe_status not in entitlement.PROBLEM_STATUSES
    )
    if problem_over:
        for name, value in _problem_values(None).items():
            setattr(account, name, value)
    account.subscription_id = snap.subscription_id
    account.stripe_status = snap.stripe_status
    account.current_period_end = snap.current_period_end
    account.cancel_at_period_end = snap.cancel_at_period_end
    account.premium_until = snap.premium_until
    account.price = _price_object(snap.price_id, entitlement.subscription_price(subscription))
    account.trial_end = snap.trial_end
    account.schedule_id = snap.schedule_id
    account.scheduled_price = _price_object(snap.scheduled_price_id, None)
    account.scheduled_change_at = snap.scheduled_change_at
    had = not account.had_subscription and entitlement.had_subscription(subscription)
    if had:
        account.had_subscription = True
    account.synced_at = timezone.now()
    account.save(
        update_fields=[
            "subscription_id",
            "stripe_status",
            "current_period_end",
            "cancel_at_period_end",
            "premium_until",
            *PLAN_FIELDS,
            "synced_at",
            "updated_at",
            *(PROBLEM_FIELDS if problem_over else ()),
            *(["had_subscription"] if had else []),
        ]
    )
    djstripe_sync(subscription)
    return account


def account_mark_had_subscription(account: BillingAccount) -> None:
    """Record that the user had a subscription (no free trial any more); never undone."""
    if not account.had_subscription:
        account.had_subscription = True
        account.save(update_fields=["had_subscription", "updated_at"])


def _price_object(price_id: str, stripe_price: Any) -> dict[str, Any] | None:
    """The contract's price object for ``price_id``: the catalogue's entry for one of ours,
    else what ``stripe_price`` (the subscription's own price object) says; None without one.

    The catalogue is cached (billing/plans.py), so this rarely asks Stripe; if it cannot be
    read (Stripe down, no price set up), the subscription's own price object is shown
    rather than failing the write it belongs to.
    """
    if not price_id:
        return None
    try:
        known = plans.price_known(price_id)
    except BillingError as exc:
        logger.warning("Price catalogue not readable (%s): %s shown as Stripe has it",
                       exc, price_id)  # fmt: skip
        known = None
    if known is not None:
        return known.as_dict()
    if stripe_price is None or isinstance(stripe_price, str):
        info = plans.PriceInfo(price_id, "", 0, "", "", "")
    else:
        info = plans.price_info_from(stripe_price)
    return info.as_dict()


def _problem_values(problem: entitlement.PaymentProblem | None) -> dict[str, Any]:
    return {
        "payment_problem_kind": problem.kind if problem else "",
        "payment_problem_invoice_id": problem.invoice_id if problem else "",
        "payment_problem_amount_due": problem.amount_due if problem else None,
        "payment_problem_currency": problem.currency if problem else "",
        "payment_problem_next_attempt": problem.next_attempt if problem else None,
    }


def account_apply_payment_problem(
    account: BillingAccount, problem: entitlement.PaymentProblem | None
) -> bool:
    """Store ``problem`` (None: there is none) on the row; True if that changed it."""
    values = _problem_values(problem)
    if all(getattr(account, name) == value for name, value in values.items()):
        return False
    for name, value in values.items():
        setattr(account, name, value)
    account.save(update_fields=[*PROBLEM_FIELDS, "updated_at"])
    return True


def account_link_customer(account: BillingAccount, customer_id: str) -> BillingAccount:
    """Store ``customer_id`` as the account's Stripe customer."""
    account.stripe_customer_id = customer_id
    account.save(update_fields=["stripe_customer_id", "updated_at"])
    return account


def account_forget_customer(account: BillingAccount) -> dict[str, tuple[Any, Any]]:
    """The customer was deleted at Stripe: forget its id, bump the generation, premium off.

    The bumped ``customer_generation`` gives the user's next customer a new idempotency
    key. Returns ``{column: (before, after)}`` for the :data:`TRACKED` columns that changed.
    """
    before = {name: getattr(account, name) for name in TRACKED}
    account_apply_payment_problem(account, None)  # the customer's invoices are gone with it
    account.stripe_customer_id = None
    account.customer_generation = F("customer_generation") + 1
    account.stripe_status = "canceled" if account.subscription_id else ""
    account.cancel_at_period_end = False
    account.premium_until = None
    # The schedule and the trial went with the customer; the price stays, as history.
    account.trial_end = None
    account.schedule_id = ""
    account.scheduled_price = None
    account.scheduled_change_at = None
    account.synced_at = timezone.now()
    account.save(
        update_fields=[
            "stripe_customer_id",
            "customer_generation",
            "stripe_status",
            "cancel_at_period_end",
            "premium_until",
            "trial_end",
            "schedule_id",
            "scheduled_price",
            "scheduled_change_at",
            "synced_at",
            "updated_at",
        ]
    )
    account.refresh_from_db()
    return {
        name: (value, getattr(account, name))
        for name, value in before.items()
        if value != getattr(account, name)
    }
