"""The entitlement rule of the HTTP contract (docs/api.md, "Tiers and entitlement"), in one place.

premium ⇔ status is ``active``/``trialing`` and the paid period has not ended, or status is
``past_due`` and now < period end + ``PAST_DUE_GRACE``. Everything else is not premium.

Readers accept both Stripe shapes: the current one (period on
``items.data[].current_period_end``, API ≥ 2025-03-31) and the older one
(``current_period_end`` on the subscription itself); :mod:`billing.stripe_objects` reads
fields of either kind of object (stripe-python's or a plain dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from .stripe_objects import field, iso, object_id, timestamp

if TYPE_CHECKING:
    from .models import BillingAccount

PREMIUM_STATUSES = frozenset({"active", "trialing"})
# Statuses Stripe may still move on from; "canceled" and "incomplete_expired" are final.
NON_TERMINAL_STATUSES = frozenset(
    {"incomplete", "trialing", "active", "past_due", "unpaid", "paused"}
)
# A subscription that renews (so its card matters): paid or in dunning. Not "incomplete" (the
# first payment belongs to the purchase flow) and not ended.
LIVE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid"})
# Statuses in which Stripe is waiting for a renewal's payment: only these have a payment problem.
PROBLEM_STATUSES = frozenset({"past_due", "unpaid"})
# PaymentIntent states that wait for the customer to authenticate (3-D Secure).
ACTION_REQUIRED_INTENT = frozenset({"requires_action"})


def period_end(subscription: Mapping[str, Any]) -> datetime | None:
    """End of the paid period: item-level (current API) or subscription-level (older API)."""
    items = field(field(subscription, "items") or {}, "data") or []
    ends = [timestamp(field(item, "current_period_end")) for item in items]
    known = [end for end in ends if end is not None]
    if known:
        return max(known)
    return timestamp(field(subscription, "current_period_end"))


def is_cancelling(subscription: Mapping[str, Any]) -> bool:
    """Cancel scheduled: ``cancel_at_period_end``, or (current API) a ``cancel_at`` date."""
    if field(subscription, "cancel_at_period_end"):
        return True
    cancel_at = timestamp(field(subscription, "cancel_at"))
    status = field(subscription, "status")
    return cancel_at is not None and status in PREMIUM_STATUSES | {"past_due"}


def premium_until(
    subscription: Mapping[str, Any] | None, *, grace: timedelta | None = None
) -> datetime | None:
    """The instant premium ends for this subscription, or None if it grants nothing."""
    if not subscription:
        return None
    status = field(subscription, "status")
    end = period_end(subscription)
    if end is None:
        return None
    if status in PREMIUM_STATUSES:
        return end
    if status == "past_due":
        return end + (settings.PAST_DUE_GRACE if grace is None else grace)
    return None


def is_premium_subscription(
    subscription: Mapping[str, Any] | None,
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
) -> bool:
    until = premium_until(subscription, grace=grace)
    return until is not None and (now or timezone.now()) < until


# --- The plan: price, trial, a change scheduled -----------------------------------------

#: Statuses that mean the subscription got past its first payment (or into a trial): the
#: customer "had a subscription" and a free trial is no longer theirs to take.
PAST_INCOMPLETE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid", "paused"})
#: A subscription schedule still to run its phases (``released``/``canceled``/``completed``
#: ones change nothing any more).
SCHEDULE_RUNNING = frozenset({"not_started", "active"})


def subscription_item(subscription: Any) -> Any:
    """The subscription's (first and only) item, or None."""
    items = field(field(subscription, "items"), "data") or []
    return items[0] if items else None


def subscription_price(subscription: Any) -> Any:
    """The price of the subscription's item (an expanded object in Stripe's answers), or None."""
    item = subscription_item(subscription)
    price = field(item, "price") if item is not None else None
    return price if price is not None else field(item, "plan")


def subscription_price_id(subscription: Any) -> str:
    return object_id(subscription_price(subscription))


def had_subscription(subscription: Any) -> bool:
    """Whether ``subscription`` shows that its customer had Premium or a trial: its status got
    past ``incomplete`` (and is not over yet), or it had a trial. A ``canceled`` one without a
    trial cannot tell alone (a purchase given up ends ``canceled`` too): its first invoice
    does, which :mod:`billing.sync` reads."""
    if field(subscription, "trial_start"):
        return True
    return field(subscription, "status") in PAST_INCOMPLETE_STATUSES


@dataclass(frozen=True)
class ScheduledChange:
    """The next phase of a subscription's schedule that changes its price."""

    schedule_id: str
    price_id: str  # "" when the schedule changes nothing we can show (or is not expanded)
    effective_at: datetime | None


def _phase_price_id(phase: Any) -> str:
    items = field(phase, "items") or []
    return object_id(field(items[0], "price")) if items else ""


def scheduled_change(subscription: Any) -> ScheduledChange | None:
    """The subscription's schedule and the price change it holds, or None without one.

    The schedule must be expanded to be read (``expand=["schedule"]``); an id alone gives
    the schedule's id and no change. The change is the first phase starting at or after the
    end of the current one whose price differs from the subscription's price now.
    """
    schedule = field(subscription, "schedule")
    if not schedule:
        return None
    if isinstance(schedule, str):
        return ScheduledChange(schedule, "", None)
    schedule_id = str(field(schedule, "id") or "")
    if field(schedule, "status") not in SCHEDULE_RUNNING:
        return None  # released, canceled or completed: the subscription is on its own again
    current = subscription_price_id(subscription)
    current_end = timestamp(field(field(schedule, "current_phase"), "end_date"))
    for phase in field(schedule, "phases") or []:
        start = timestamp(field(phase, "start_date"))
        if start is None or (current_end is not None and start < current_end):
            continue
        price_id = _phase_price_id(phase)
        if price_id and price_id != current:
            return ScheduledChange(schedule_id, price_id, start)
    return ScheduledChange(schedule_id, "", None)


@dataclass(frozen=True)
class Snapshot:
    """What the app stores of a subscription (the columns of BillingAccount)."""

    subscription_id: str
    stripe_status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    premium_until: datetime | None
    price_id: str = ""
    trial_end: datetime | None = None
    schedule_id: str = ""
    scheduled_price_id: str = ""
    scheduled_change_at: datetime | None = None


def snapshot(subscription: Mapping[str, Any]) -> Snapshot:
    status = str(field(subscription, "status") or "")
    change = scheduled_change(subscription)
    return Snapshot(
        subscription_id=str(field(subscription, "id") or ""),
        stripe_status=status,
        current_period_end=period_end(subscription),
        cancel_at_period_end=is_cancelling(subscription),
        premium_until=premium_until(subscription),
        price_id=subscription_price_id(subscription),
        # Only while trialing: a trial that ended is history (had_subscription keeps it).
        trial_end=timestamp(field(subscription, "trial_end")) if status == "trialing" else None,
        schedule_id=change.schedule_id if change else "",
        scheduled_price_id=change.price_id if change else "",
        scheduled_change_at=change.effective_at if change and change.price_id else None,
    )


def state_for(stripe_status: str, *, cancel_at_period_end: bool, premium: bool) -> str:
    """The contract's ``state`` word for a stored subscription."""
    if not stripe_status:
        return "none"
    if stripe_status == "incomplete":
        return "incomplete"
    if stripe_status in PREMIUM_STATUSES:
        if not premium:
            return "none"
        return "cancelling" if cancel_at_period_end else "active"
    if stripe_status == "past_due":
        return "past_due" if premium else "none"
    if stripe_status == "canceled":
        return "cancelled"
    # incomplete_expired, unpaid, paused: no access, nothing in progress.
    return "none"


@dataclass(frozen=True)
class PaymentProblem:
    """A renewal charge awaiting the customer: it failed, or it needs 3-D Secure."""

    kind: str  # payment_failed | action_required
    invoice_id: str
    amount_due: int
    currency: str
    next_attempt: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "invoice_id": self.invoice_id,
            "amount_due": self.amount_due,
            "currency": self.currency,
            "next_attempt": iso(self.next_attempt),
        }


def payment_problem(subscription: Any, invoice: Any, intent: Any) -> PaymentProblem | None:
    """The problem a subscription's latest ``invoice`` (and its PaymentIntent) shows, or None.

    Only a subscription in dunning (``past_due``, ``unpaid``) whose latest invoice is still
    ``open`` has one: ``action_required`` when the PaymentIntent waits for 3-D Secure (or the
    bank declined for want of it), ``payment_failed`` when the charge failed or could not be
    made. Pure: the caller (:mod:`billing.sync`) reads the objects from Stripe.
    """
    if field(subscription, "status") not in PROBLEM_STATUSES or invoice is None:
        return None
    if field(invoice, "status") != "open":
        return None
    error = field(intent, "last_payment_error") if intent is not None else None
    needs_authentication = "authentication_required" in (
        field(error, "code"),
        field(error, "decline_code"),
    )
    if intent is not None and (
        field(intent, "status") in ACTION_REQUIRED_INTENT or needs_authentication
    ):
        kind = "action_required"
    elif intent is not None and field(intent, "status") == "requires_payment_method":
        kind = "payment_failed"
    elif intent is None and field(invoice, "attempted"):
        kind = "payment_failed"  # attempted without an intent: no card to charge
    else:
        return None  # not attempted yet, or being processed: nothing for the customer to do
    return PaymentProblem(
        kind=kind,
        invoice_id=str(field(invoice, "id") or ""),
        amount_due=int(field(invoice, "amount_due") or 0),
        currency=str(field(invoice, "currency") or ""),
        next_attempt=timestamp(field(invoice, "next_payment_attempt")),
    )


def stored_payment_problem(account: BillingAccount) -> PaymentProblem | None:
    """The problem the last sync stored on the row, or None."""
    if not account.payment_problem_kind:
        return None
    return PaymentProblem(
        kind=account.payment_problem_kind,
        invoice_id=account.payment_problem_invoice_id,
        amount_due=account.payment_problem_amount_due or 0,
        currency=account.payment_problem_currency,
        next_attempt=account.payment_problem_next_attempt,
    )


def status_object(account: BillingAccount | None) -> dict[str, Any]:
    """The contract's status object, from the stored row alone (no Stripe call)."""
    trial_eligible = settings.BILLING_TRIAL_DAYS > 0 and not (
        account is not None and account.had_subscription
    )
    if account is None or not account.subscription_id:
        return {
            "state": "none",
            "stripe_status": None,
            "premium": False,
            "premium_until": None,
            "current_period_end": None,
            "cancel_at_period_end": False,
            "subscription_id": None,
            "payment_problem": None,
            "price": None,
            "interval": None,
            "scheduled_change": None,
            "trial_end": None,
            "trial_eligible": trial_eligible,
        }
    premium = account.is_premium
    problem = stored_payment_problem(account)
    price = account.price or None
    return {
        "state": state_for(
            account.stripe_status,
            cancel_at_period_end=account.cancel_at_period_end,
            premium=premium,
        ),
        "stripe_status": account.stripe_status,
        "premium": premium,
        "premium_until": iso(account.premium_until) if premium else None,
        "current_period_end": iso(account.current_period_end),
        "cancel_at_period_end": account.cancel_at_period_end,
        "subscription_id": account.subscription_id,
        "payment_problem": problem.as_dict() if problem is not None else None,
        **_plan_fields(account, price),
        "trial_eligible": trial_eligible,
    }


def _plan_fields(account: BillingAccount, price: dict[str, Any] | None) -> dict[str, Any]:
    """The status object's plan: the price now, a change scheduled, the trial's end."""
    change = None
    if account.scheduled_price and account.scheduled_change_at:
        change = {
            "price": account.scheduled_price,
            "interval": account.scheduled_price.get("interval") or None,
            "effective_at": iso(account.scheduled_change_at),
        }
    return {
        "price": price,
        "interval": (price or {}).get("interval") or None,
        "scheduled_change": change,
        "trial_end": iso(account.trial_end) if account.stripe_status == "trialing" else None,
    }


def choose_subscription(
    subscriptions: list[Mapping[str, Any]], *, now: datetime | None = None
) -> Mapping[str, Any] | None:
    """The subscription a customer's entitlement follows, when Stripe lists several.

    One that grants premium now wins; then one still in progress (incomplete, past_due
    beyond grace, unpaid, paused); then the most recently created. Order of arrival of
    events does not matter: the answer depends only on the objects.
    """
    if not subscriptions:
        return None
    moment = now or timezone.now()

    def rank(sub: Mapping[str, Any]) -> tuple[int, int, int]:
        granting = is_premium_subscription(sub, now=moment)
        in_progress = field(sub, "status") in NON_TERMINAL_STATUSES
        return (int(granting), int(in_progress), int(field(sub, "created") or 0))

    return max(subscriptions, key=rank)
