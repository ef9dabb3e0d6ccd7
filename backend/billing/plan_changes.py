"""Changing plans: monthly → yearly now (the prorated difference charged at once), yearly →
monthly at the end of the paid year (a subscription schedule), a preview of either before it is
confirmed, and undoing a scheduled change (docs/api.md, "Changing plans").

Only the caller's own subscription can change: no request names one, every service reads the
subscription stored on the caller's row and nothing else. Each runs on the locked row
(:func:`account_state.account_work`), so a double click never changes twice, and re-reads the
subscription from Stripe first, so it decides on what Stripe has, not on a row that may lag.

* **Up (shorter → longer interval): now.** ``Invoice.create_preview`` shows what switching
  would charge at a ``proration_date`` (the new price in full, less the unused time of the
  old); ``Subscription.modify`` with the same ``proration_date``, ``always_invoice`` and
  ``pending_if_incomplete`` charges exactly that. A refused card leaves Stripe's change
  pending: the invoice is voided (which discards it) and the answer is 402 — still monthly,
  nothing left open. A card that wants 3-D Secure leaves the invoice open with its
  PaymentIntent waiting: the answer carries its ``client_secret`` for the browser, and the
  change applies when it is paid.
* **Down (longer → shorter interval): at the period end.** A subscription schedule made from
  the subscription, two phases (the current price until the end of the paid period, then the
  new one), ``end_behavior=release``: Stripe switches the price at the renewal and then lets
  the subscription go on by itself. Nothing is charged now. Cancelling the change releases the
  schedule.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from rest_framework import status

from accounts.models import User

from . import entitlement, plans, stripe_client
from .account_state import account_apply_subscription, account_work
from .exceptions import BillingError, NoSubscription, PaymentFailed
from .models import BillingAccount
from .presenters import invoice_intent, invoice_object
from .stripe_objects import field, iso, object_id
from .sync import account_sync
from .throttling import decline_record

logger = logging.getLogger(__name__)

#: How old a preview's ``proration_date`` may be when the change is confirmed. The date sets
#: the credit for the unused time of the old price: one from long ago would credit time the
#: customer has already used, so an old preview is refused rather than honoured.
PRORATION_DATE_MAX_AGE = 3600
#: A date a little ahead of our clock is a clock difference, not a trick.
PRORATION_DATE_SKEW = 300
NOW = "now"
PERIOD_END = "period_end"
#: The order of billing intervals, shortest first: a change to a longer one is charged now.
INTERVAL_ORDER = {"day": 0, "week": 1, "month": 2, "year": 3}
ENDED = frozenset({"", "canceled", "incomplete_expired"})


class NotChangeable(BillingError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Your subscription cannot change plans now."
    default_code = "not_changeable"


class SamePlan(BillingError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "You are already on this plan."
    default_code = "same_plan"


class NoScheduledChange(BillingError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "No plan change is scheduled."
    default_code = "no_scheduled_change"


class PreviewExpired(BillingError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "proration_date: This preview is too old; preview the change again."
    default_code = "preview_expired"


@dataclass(frozen=True)
class Change:
    """A change asked of the caller's subscription, checked against Stripe's subscription."""

    subscription: Any
    item_id: str
    price: plans.PriceInfo
    timing: str  # NOW or PERIOD_END


def _interval(price: Any) -> str:
    return str(field(field(price, "recurring"), "interval", "") or field(price, "interval") or "")


def _change_check(account: BillingAccount, price: plans.PriceInfo) -> Change:
    """The caller's subscription, re-read from Stripe (and stored), and what changing it to
    ``price`` means; the contract's 404/409 answers when it cannot change."""
    if not account.subscription_id or account.stripe_status in ENDED:
        raise NoSubscription()
    subscription: Any = stripe_client.subscription_retrieve(account.subscription_id)
    account_apply_subscription(account, subscription)  # the row follows what Stripe has
    state = field(subscription, "status")
    if state in ENDED:
        raise NoSubscription()
    if state == "incomplete":
        raise NotChangeable(detail="Finish paying for your subscription first.")
    if state in entitlement.PROBLEM_STATUSES:
        raise NotChangeable(detail="Pay the open invoice first (or change your card).")
    if state == "trialing":
        raise NotChangeable(detail="You can change plans once the trial has ended.")
    if state != "active":
        raise NotChangeable()
    if entitlement.is_cancelling(subscription):
        raise NotChangeable(detail="Resume your subscription first.")
    item = entitlement.subscription_item(subscription)
    current = entitlement.subscription_price(subscription)
    if item is None or current is None:
        raise NotChangeable()
    if object_id(current) == price.id:
        raise SamePlan()
    scheduled = entitlement.scheduled_change(subscription)
    if scheduled is not None and scheduled.price_id == price.id:
        raise SamePlan(detail="This change is already scheduled.")
    shorter = INTERVAL_ORDER.get(price.interval, 0) < INTERVAL_ORDER.get(_interval(current), 0)
    return Change(subscription, str(field(item, "id")), price, PERIOD_END if shorter else NOW)


def _line(line: Any) -> dict[str, Any]:
    """An invoice line as the preview shows it; ``proration`` from the current shape
    (``parent.subscription_item_details.proration``) or the older one (``proration``)."""
    details = field(field(line, "parent"), "subscription_item_details")
    proration = field(details, "proration") if details is not None else field(line, "proration")
    return {
        "description": str(field(line, "description") or ""),
        "amount": int(field(line, "amount") or 0),
        "proration": bool(proration),
    }


def _money(amount: int, currency: str) -> str:
    return f"{currency.upper()} {amount / 100:,.2f}"


def _period_end_preview(change: Change) -> dict[str, Any]:
    """A change at the end of the paid period: nothing now, the new price from then on."""
    effective = entitlement.period_end(change.subscription)
    if effective is None:
        raise NotChangeable()
    price = change.price
    name = price.product_name or "Premium"
    description = (
        f"{name} ({_money(price.unit_amount, price.currency)} / {price.interval}), "
        f"from {effective:%B} {effective.day}, {effective.year}"
    )
    return {
        "price": price.as_dict(),
        "timing": PERIOD_END,
        "effective_at": iso(effective),
        "amount_due": price.unit_amount,
        "currency": price.currency,
        # Nothing is prorated at the period end, but a client passes the preview's date back to
        # change/ as the contract says: "now" is one that change/ accepts for the next hour.
        "proration_date": int(time.time()),
        "lines": [{"description": description, "amount": price.unit_amount, "proration": False}],
    }


def _now_preview(account: BillingAccount, change: Change, proration_date: int) -> dict[str, Any]:
    """Stripe's preview of the invoice that the change now would charge (creates nothing)."""
    preview = stripe_client.invoice_preview_price_change(
        customer_id=str(account.stripe_customer_id),
        subscription_id=str(field(change.subscription, "id")),
        item_id=change.item_id,
        price_id=change.price.id,
        proration_date=proration_date,
    )
    return {
        "price": change.price.as_dict(),
        "timing": NOW,
        "effective_at": iso(datetime.fromtimestamp(proration_date, tz=UTC)),
        "amount_due": int(field(preview, "amount_due") or 0),
        "currency": str(field(preview, "currency") or change.price.currency),
        "proration_date": proration_date,
        "lines": [_line(line) for line in field(field(preview, "lines"), "data") or []],
    }


def subscription_change_preview(*, user: User, price: object) -> dict[str, Any]:
    """What changing the caller's subscription to ``price`` would charge, and when.

    ``timing: "now"``: Stripe's invoice preview at ``proration_date`` (now), the amount the
    change charges if confirmed with that date. ``"period_end"``: nothing now; the new price
    from the end of the paid period. 400 ``invalid_price``, 404 ``no_subscription``, 409
    ``same_plan`` / ``not_changeable``.
    """
    chosen = plans.price_resolve(price)

    def work(account: BillingAccount) -> dict[str, Any]:
        change = _change_check(account, chosen)
        if change.timing == PERIOD_END:
            return _period_end_preview(change)
        return _now_preview(account, change, int(time.time()))

    return account_work(user, work)


def _proration_date_check(proration_date: int | None) -> int:
    now = int(time.time())
    if proration_date is None:
        return now
    if not now - PRORATION_DATE_MAX_AGE <= proration_date <= now + PRORATION_DATE_SKEW:
        raise PreviewExpired()
    return min(proration_date, now)


def _schedule_running(subscription: Any) -> Any:
    """The subscription's schedule if it is expanded and still running, else None."""
    schedule = field(subscription, "schedule")
    if schedule is None or isinstance(schedule, str):
        return None
    return schedule if field(schedule, "status") in entitlement.SCHEDULE_RUNNING else None


def _schedule_running_id(subscription: Any) -> str | None:
    """The id of the subscription's schedule if it still runs (read from Stripe when the
    subscription only names it), else None."""
    schedule = field(subscription, "schedule")
    schedule_id = object_id(schedule)
    if not schedule_id:
        return None
    if isinstance(schedule, str):
        schedule = stripe_client.subscription_schedule_retrieve(schedule_id)
    return schedule_id if field(schedule, "status") in entitlement.SCHEDULE_RUNNING else None


def schedule_release(subscription: Any) -> bool:
    """Release the subscription's running schedule, if it has one: it stays as it is now,
    with no change to come (a cancellation, or an upgrade, takes over). True if released."""
    schedule_id = _schedule_running_id(subscription)
    if schedule_id is None:
        return False
    stripe_client.subscription_schedule_release(schedule_id)
    return True


def schedule_payment_method_set(subscription: Any, *, payment_method_id: str) -> bool:
    """Make ``payment_method_id`` the card of the subscription's running schedule
    (``default_settings``), if it has one: a phase that starts puts the schedule's card on the
    subscription, so a card changed after the change was scheduled would otherwise give way to
    the old one at the renewal. True if a schedule was updated."""
    schedule_id = _schedule_running_id(subscription)
    if schedule_id is None:
        return False
    stripe_client.subscription_schedule_set_default_payment_method(
        schedule_id, payment_method_id=payment_method_id
    )
    return True


def _schedule_release_quietly(schedule_id: str) -> None:
    """Release a schedule this request made and could not finish (best effort: the failure
    that stopped it is the answer; a schedule left behind is released by cancel-change/)."""
    try:
        stripe_client.subscription_schedule_release(schedule_id)
    except stripe.StripeError as exc:
        logger.warning("Unfinished schedule %s left running: %s", schedule_id, exc)


def _schedule_released(schedule_id: str) -> bool:
    """Whether Stripe's schedule ``schedule_id`` has been released (an unknown id: no)."""
    try:
        schedule = stripe_client.subscription_schedule_retrieve(schedule_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing" or exc.http_status == 404:
            return False
        raise
    return field(schedule, "status") == "released"


def _pending_discard(subscription: Any) -> None:
    """An earlier upgrade left pending (its 3-D Secure never finished): void its open invoice,
    which discards the pending update, so that the new change starts clean."""
    if not field(subscription, "pending_update"):
        return
    invoice_id = object_id(field(subscription, "latest_invoice"))
    if not invoice_id:
        return
    invoice = stripe_client.invoice_retrieve(invoice_id)
    if field(invoice, "status") == "open":
        stripe_client.invoice_void(invoice_id)


def _change_key(change: Change, proration_date: int) -> str:
    """From the subscription as Stripe has it before the change: the same key for a retry
    after a lost answer (nothing changed at Stripe), a new one once an attempt was answered.
    A change made moves the price (a retry then meets ``same_plan`` first); a refused one
    leaves a new, voided latest invoice, so a retry after a decline charges again instead
    of replaying the decline."""
    sub = change.subscription
    before = entitlement.subscription_price_id(sub)
    latest = object_id(field(sub, "latest_invoice"))
    return (
        f"{field(sub, 'id')}-{change.item_id}-{before}-to-{change.price.id}"
        f"-at-{proration_date}-after-{latest}"
    )


def _period_start(subscription: Any) -> int | None:
    """Start of the current period (item-level in the current API, else the subscription's)."""
    items = field(field(subscription, "items"), "data") or []
    starts = [field(item, "current_period_start") for item in items]
    known = [int(start) for start in starts if start is not None]
    if known:
        return max(known)
    start = field(subscription, "current_period_start")
    return int(start) if start is not None else None


def _sync_after_decline(account: BillingAccount) -> None:
    """Store what Stripe has after a refused upgrade. Best effort: the decline is the answer
    (a 402, not a 502 because Stripe hiccupped afterwards); the next sync or webhook catches up."""
    try:
        account_sync(account)
    except stripe.StripeError as exc:
        logger.warning("No sync after a declined upgrade: %s", exc)


def _upgrade(
    account: BillingAccount, change: Change, proration_date: int, *, previewed: bool
) -> dict[str, Any]:
    """Switch now and charge the prorated difference (see the module docstring)."""
    subscription_id = str(field(change.subscription, "id"))
    start = _period_start(change.subscription)
    if previewed and start is not None and proration_date < start:
        # The subscription renewed after the preview: its credit was for a period that is
        # over, so what the preview showed is no longer what the change would charge.
        raise PreviewExpired()
    key = _change_key(change, proration_date)
    schedule_release(change.subscription)  # a schedule would take the price back at its phase end
    _pending_discard(change.subscription)
    try:
        updated = stripe_client.subscription_change_price(
            subscription_id,
            item_id=change.item_id,
            price_id=change.price.id,
            proration_date=proration_date,
            idempotency_key=key,
        )
    except stripe.CardError as exc:
        # A Stripe that refuses at once instead of holding the change pending: make sure
        # nothing is left open either way (best effort: the next change discards it too).
        try:
            _pending_discard(stripe_client.subscription_retrieve(subscription_id))
        except stripe.StripeError as cleanup_exc:
            logger.warning("Declined upgrade of %s not cleaned up: %s", subscription_id,
                           cleanup_exc)  # fmt: skip
        _sync_after_decline(account)
        raise PaymentFailed(detail=exc.user_message or PaymentFailed.default_detail) from exc
    invoice_id = object_id(field(updated, "latest_invoice"))
    invoice = (
        stripe_client.invoice_retrieve(invoice_id, expand=stripe_client.INVOICE_INTENT_EXPAND)
        if invoice_id
        else None
    )
    if field(updated, "pending_update"):
        intent = invoice_intent(invoice) if invoice is not None else None
        if intent is None or field(intent, "status") != "requires_action":
            # Refused: void the invoice (Stripe discards the pending update with it), so the
            # customer is still on the old price with nothing open, and say why.
            error = field(intent, "last_payment_error") if intent is not None else None
            if invoice is not None and field(invoice, "status") == "open":
                stripe_client.invoice_void(str(invoice_id))
            _sync_after_decline(account)
            raise PaymentFailed(detail=str(field(error, "message") or PaymentFailed.default_detail))
    account_apply_subscription(account, updated)
    return {
        "subscription": entitlement.status_object(account),
        "invoice": invoice_object(invoice) if invoice is not None else None,
    }


def _schedule_make(account: BillingAccount, subscription_id: str) -> Any:
    """A schedule from the subscription. The key is the same for a retry after a lost answer
    and new for each schedule made (``schedule_generation``, bumped once one is made): a
    released schedule leaves nothing on the subscription that would tell a second one apart."""
    schedule = stripe_client.subscription_schedule_from_subscription(
        subscription_id,
        idempotency_key=f"{subscription_id}-schedule-{account.schedule_generation}",
    )
    account.schedule_generation += 1
    account.save(update_fields=["schedule_generation", "updated_at"])
    return schedule


def phase_discounts(schedule: Any) -> list[dict[str, str]]:
    """The discounts of the schedule's current phase as phase parameters (an existing discount
    reused by its id, so a ``repeating`` one keeps its end; else its promotion code or coupon).

    Setting phases replaces everything in them: a phase without ``discounts`` drops the
    subscription's discount (a ``forever`` or ``repeating`` promotion code) when it starts."""
    start = field(field(schedule, "current_phase"), "start_date")
    for phase in field(schedule, "phases") or []:
        if start is None or field(phase, "start_date") != start:
            continue
        carried = []
        for discount in field(phase, "discounts") or []:
            for name in ("discount", "promotion_code", "coupon"):
                value = object_id(field(discount, name))
                if value:
                    carried.append({name: value})
                    break
        return carried
    return []


def downgrade_phases(schedule: Any, *, current_price: str, price: plans.PriceInfo) -> list[Any]:
    """The two phases of a change at the period end: the current price until the current
    phase ends, then ``price`` (one interval; then the schedule releases the subscription),
    both with the current phase's discounts. NotChangeable if the schedule has no current
    phase with dates."""
    current = field(schedule, "current_phase") or {}
    start = field(current, "start_date")
    end = field(current, "end_date")
    if not start or not end:
        raise NotChangeable()
    discounts = phase_discounts(schedule)
    # Only when there are some: an empty list is the same as none at Stripe.
    carried: dict[str, Any] = {"discounts": discounts} if discounts else {}
    return [
        {
            "items": [{"price": current_price, "quantity": 1}],
            "start_date": start,
            "end_date": end,
            **carried,
        },
        {
            "items": [{"price": price.id, "quantity": 1}],
            "duration": {"interval": price.interval, "interval_count": 1},
            **carried,
        },
    ]


def _downgrade(account: BillingAccount, change: Change) -> dict[str, Any]:
    """Schedule the change for the end of the paid period (see the module docstring)."""
    subscription_id = str(field(change.subscription, "id"))
    schedule = _schedule_running(change.subscription)
    made = schedule is None
    if schedule is None:
        schedule = _schedule_make(account, subscription_id)
    schedule_id = str(field(schedule, "id"))
    current_price = entitlement.subscription_price_id(change.subscription)
    try:
        phases = downgrade_phases(schedule, current_price=current_price, price=change.price)
        end = phases[0]["end_date"]
        stripe_client.subscription_schedule_set_phases(
            schedule_id,
            phases=phases,
            idempotency_key=f"{schedule_id}-phases-{current_price}-{change.price.id}-{end}",
        )
    except (stripe.StripeError, BillingError):
        # A schedule made here and left with its one phase would change nothing yet hold the
        # subscription (cancel-change/ would have no change to undo): let it go again.
        if made:
            _schedule_release_quietly(schedule_id)
        raise
    account_apply_subscription(account, stripe_client.subscription_retrieve(subscription_id))
    return {"subscription": entitlement.status_object(account), "invoice": None}


def subscription_change(
    *, user: User, price: object, proration_date: int | None = None
) -> dict[str, Any]:
    """Change the caller's subscription to ``price``: ``{"subscription": status object,
    "invoice": the prorated invoice | None}``.

    To a longer interval now, charged at ``proration_date`` (the preview's, at most an hour
    old: 400 ``preview_expired``; none: now), so the charge equals the preview; 402 with
    Stripe's sentence and nothing changed if the card is refused; ``invoice.client_secret``
    when it needs 3-D Secure. To a shorter interval at the end of the paid period (a
    schedule). Errors as :func:`subscription_change_preview`.
    """
    chosen = plans.price_resolve(price)
    when = _proration_date_check(proration_date)

    def work(account: BillingAccount) -> dict[str, Any]:
        change = _change_check(account, chosen)
        if change.timing == PERIOD_END:
            return _downgrade(account, change)
        return _upgrade(account, change, when, previewed=proration_date is not None)

    try:
        return account_work(user, work)
    except PaymentFailed:
        decline_record()  # the card-testing brake counts declines site-wide, upgrades too
        raise


def subscription_change_cancel(*, user: User) -> dict[str, Any]:
    """Undo the scheduled change: release the caller's running schedule (whatever it holds);
    the status object, with ``scheduled_change: null``. A retry after a lost answer (the
    schedule the row knew is released already) gets the same answer; 409
    ``no_scheduled_change`` when there is no schedule."""

    def work(account: BillingAccount) -> dict[str, Any]:
        if not account.subscription_id:
            raise NoScheduledChange()
        stored_schedule_id = account.schedule_id  # before the re-read below forgets it
        subscription = stripe_client.subscription_retrieve(account.subscription_id)
        account_apply_subscription(account, subscription)
        # Any running schedule of the subscription goes, with a change in it or not (one left
        # with a single phase by a change that failed half-way changes nothing but holds it).
        if not schedule_release(subscription):
            if stored_schedule_id and _schedule_released(stored_schedule_id):
                # A retry after a lost answer: the schedule this row knew is already released.
                return entitlement.status_object(account)
            raise NoScheduledChange()
        account_apply_subscription(
            account, stripe_client.subscription_retrieve(account.subscription_id)
        )
        return entitlement.status_object(account)

    return account_work(user, work)
