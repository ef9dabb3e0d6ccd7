"""Price changes of a subscription, with Stripe's prorations and pending updates, and previews.

Reproduces (localstripe: a new subscription item, a credit of *every* past invoice in full, no
proration date, no pending updates, a preview that is neither of these):

* ``POST /v1/subscriptions/{id}`` with ``items[0][id]`` (the subscription's item, which keeps its
  id) and ``items[0][price]``, ``proration_behavior`` (``create_prorations`` default,
  ``always_invoice``, ``none``), ``proration_date`` (default now; clamped to the current
  period, as the renewal helper moves periods ahead of the clock).
* Same interval (e.g. monthly → another monthly price): the period stays; prorations are
  "Unused time on <old> after <date>" (``-round(old * (end - proration_date) / (end - start))``)
  and "Remaining time on <new> after <date>" (``+round(new * ...)``). ``create_prorations``
  leaves them pending (the next invoice bills them), ``always_invoice`` invoices and charges them
  now, ``none`` makes none.
* Another interval (month → year): Stripe resets the billing cycle to now, so an invoice is made
  at once whatever ``proration_behavior``: the new price in full for the new period (now → now + 1
  year) minus the unused-time credit of the old price (none with ``proration_behavior=none``).
* Proration lines are invoice items of the subscription item, so their current shape is
  ``parent.subscription_item_details`` with ``proration: true`` and ``invoice_item``; the credit's
  ``proration_details.credited_items`` names the invoice line it credits.
* The invoice (``billing_reason: subscription_update``) is charged at once, on session, with the
  subscription's default payment method, else the customer's
  ``invoice_settings.default_payment_method``. ``payment_behavior``:
  ``allow_incomplete`` (default) — the change applies anyway, a decline makes it ``past_due``;
  ``error_if_incomplete`` — a card that would decline or need authentication is a 402 and
  nothing changes; ``pending_if_incomplete`` — Stripe's *pending updates*: if the payment fails
  (decline) or needs 3-D Secure, the answer is still 200, the subscription keeps its price and
  period and gets ``pending_update`` (``expires_at`` = now + 23 h, ``subscription_items``,
  ``billing_cycle_anchor``...), ``latest_invoice`` is the open invoice (its PaymentIntent
  ``requires_payment_method`` with ``last_payment_error``, or ``requires_action``); paying it
  (``/pay``, the browser's 3-D Secure) applies the change and clears ``pending_update``
  (``customer.subscription.pending_update_applied``); voiding it discards the change.
  (docs.stripe.com/billing/subscriptions/pending-updates)
* ``POST /v1/invoices/create_preview`` (``customer``, ``subscription``,
  ``subscription_details[items][0][id|price]``, ``[proration_behavior]``, ``[proration_date]``,
  top-level ``discounts``): built by the same code as the real invoice, so with the same
  ``proration_date`` its ``amount_due`` is exactly what the update then charges; nothing is
  stored and no event is sent. Without a price change it is the next renewal invoice (the
  schedule's next phase price if one starts then); without ``subscription`` it is the first
  invoice of a new subscription to ``subscription_details[items][0][price]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from localstripe import resources as R

from ..errors import card_error, invalid_request
from . import cards
from .events import emit
from .export import unknown_parameter

PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")
#: Stripe discards a pending update that was not paid within 23 hours.
PENDING_UPDATE_TTL = 23 * 3600


@dataclass
class PriceChange:
    """One price change of a subscription's (only) item, computed before anything changes."""

    sub: Any
    item: Any
    old_plan: Any
    new_plan: Any
    proration_behavior: str
    proration_date: int
    now: int
    old_period: dict
    #: the billing cycle restarts now (another interval): the new price is invoiced in full
    reset: bool

    @property
    def new_period(self) -> dict:
        from .subscriptions import _add_interval

        if self.reset:
            return {"start": self.now, "end": _add_interval(self.now, self.new_plan)}
        return dict(self.old_period)

    def _fraction(self, amount: int) -> int:
        """``round(amount * unused / period)`` (half up), the time after ``proration_date``."""
        start, end = self.old_period["start"], self.old_period["end"]
        unused = Decimal(amount * (end - self.proration_date)) / Decimal(end - start)
        return int(unused.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def credit(self) -> int:
        """The unused time of the old price (a positive amount, credited)."""
        return 0 if self.proration_behavior == "none" else self._fraction(self.old_plan.amount)

    @property
    def debit(self) -> int:
        """The remaining time on the new price (same interval only: a reset bills it in full)."""
        if self.reset or self.proration_behavior == "none":
            return 0
        return self._fraction(self.new_plan.amount)

    @property
    def invoices_now(self) -> bool:
        return self.reset or self.proration_behavior == "always_invoice"


def _product_name(plan) -> str:
    product = R.store.get("product:" + str(plan.product))
    return getattr(product, "name", None) or plan.nickname or plan.id


CURRENCY_SYMBOLS = {"usd": "$", "eur": "\u20ac", "gbp": "\u00a3"}
TIMES = "\u00d7"  # Stripe writes a multiplication sign: "1 <times> Premium (at $200.00 / year)"


def subscription_line_description(plan, quantity=1) -> str:
    """Stripe's description of a subscription line (quantity, product, price / interval)."""
    amount = (plan.amount or 0) / 100
    symbol = CURRENCY_SYMBOLS.get(plan.currency)
    money = f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {plan.currency.upper()}"
    count = plan.interval_count or 1
    every = f"/ {plan.interval}" if count == 1 else f"every {count} {plan.interval}s"
    return f"{quantity or 1} {TIMES} {_product_name(plan)} (at {money} {every})"


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d %b %Y")


def _int_param(value, param: str) -> int | None:
    if value is None:
        return None
    converted = R.try_convert_to_int(value)
    if not isinstance(converted, int):
        raise invalid_request("Invalid integer: " + str(value), param=param)
    return converted


def compute(sub, items, proration_behavior=None, proration_date=None, param="items"):
    """The price change ``items`` asks for, or None if it changes no price. Raises Stripe's 400s."""
    from .subscriptions import _translate_items

    if sub.status == "incomplete" and items:
        raise invalid_request(
            "You cannot update a subscription in `incomplete` status in a way that results in "
            "a new invoice or invoice items. Only minor attributes, like `metadata` or "
            "`default_payment_method`, can be updated on such subscriptions."
        )
    proration_behavior = proration_behavior or "create_prorations"
    if proration_behavior not in PRORATION_BEHAVIORS:
        raise invalid_request(
            "Invalid proration_behavior: must be one of " + ", ".join(PRORATION_BEHAVIORS),
            param="proration_behavior",
        )
    items = _translate_items(items, param=param)
    if not items:
        return None
    if len(items) != 1:
        raise invalid_request(
            "The stand-in keeps one item per subscription: pass exactly one of items[].",
            param=param,
        )
    wanted = items[0]
    item = sub.items._list[0]
    if wanted.get("id") is None and wanted.get("plan") not in (None, item.plan.id):
        raise invalid_request(
            "Adding a second item is not reproduced offline: pass items[0][id] "
            f"({item.id}) with the new price to change the price.",
            param=f"{param}[0][id]",
        )
    if wanted.get("id") is not None and wanted["id"] != item.id:
        raise invalid_request(
            f"Invalid subscription_item id: {wanted['id']}", param=f"{param}[0][id]"
        )
    if R.try_convert_to_bool(wanted.get("deleted")) is True:
        raise invalid_request(
            "A subscription must keep at least one item.", param=f"{param}[0][deleted]"
        )
    quantity = R.try_convert_to_int(wanted.get("quantity", 1))
    if quantity != 1:
        raise invalid_request(
            "Quantities other than 1 are not reproduced offline.", param=f"{param}[0][quantity]"
        )
    plan_id = wanted.get("plan")
    if plan_id is None or plan_id == item.plan.id:
        return None
    new_plan = R.Plan._api_retrieve(plan_id)
    if new_plan.currency != item.plan.currency:
        raise invalid_request(
            "The price specified has a different currency than the subscription's "
            f"({new_plan.currency} vs {item.plan.currency}).",
            param=f"{param}[0][price]",
        )
    now = int(time.time())
    period = item._current_period()
    when = _int_param(proration_date, "proration_date")
    # Clamped to the current period: before it, all of it is unused; after it, none. (The
    # renewal helper moves periods into the future, so "now" can be before the period.)
    when = min(max(now if when is None else when, period["start"]), period["end"])
    old = item.plan
    reset = (old.interval, old.interval_count or 1) != (
        new_plan.interval,
        new_plan.interval_count or 1,
    )
    if sub.status == "trialing":
        # Stripe: the trial goes on (its period, nothing to prorate or invoice); the new
        # price is billed when it ends.
        proration_behavior, reset = "none", False
    return PriceChange(
        sub=sub,
        item=item,
        old_plan=old,
        new_plan=new_plan,
        proration_behavior=proration_behavior,
        proration_date=when,
        now=now,
        old_period=period,
        reset=reset,
    )


def proration_items(change: PriceChange) -> list:
    """The proration invoice items of ``change`` (stored, pending: ``invoice`` None)."""
    out = []
    period_end = change.old_period["end"]
    lines = (
        (-change.credit, change.old_plan, "Unused time on {} after {}"),
        (change.debit, change.new_plan, "Remaining time on {} after {}"),
    )
    for amount, plan, text in lines:
        if not amount:
            continue
        ii = R.InvoiceItem(
            amount=amount,
            currency=plan.currency,
            customer=change.sub.customer,
            subscription=change.sub.id,
            plan=plan.id,
            proration=True,
            description=text.format(_product_name(plan), _day(change.proration_date)),
            period_start=change.proration_date,
            period_end=period_end,
        )
        ii._fs_subscription_item = change.item.id
        if amount < 0:
            ii._fs_credited = _credited_line(change.sub, change.item)
        out.append(ii)
    return out


def _credited_line(sub, item):
    """``{invoice, invoice_line_items}`` of the line that paid the item's current period."""
    if not sub.latest_invoice:
        return None
    invoice = R.store.get("invoice:" + sub.latest_invoice)
    if invoice is None:
        return None
    lines = [
        li.id
        for li in invoice.lines._list
        if getattr(li, "subscription_item", None) == item.id and not li.proration
    ]
    return {"invoice": invoice.id, "invoice_line_items": lines} if lines else None


def line_parent(line) -> dict | None:
    """``parent`` of an invoice line made from a proration item: the subscription item's.

    Stripe's proration lines belong to the subscription item (``subscription_item_details``
    with ``invoice_item`` and ``proration: true``); None for any other line.
    """
    ii = R.store.get("invoiceitem:" + str(getattr(line, "invoice_item", None)))
    si_id = getattr(ii, "_fs_subscription_item", None)
    if si_id is None:
        return None
    credited = getattr(ii, "_fs_credited", None)
    return {
        "invoice_item_details": None,
        "subscription_item_details": {
            "invoice_item": ii.id,
            "proration": bool(ii.proration),
            "proration_details": {"credited_items": credited},
            "subscription": ii.subscription,
            "subscription_item": si_id,
        },
        "type": "subscription_item_details",
    }


# -- the real change ---------------------------------------------------------------------------


def _error_if_incomplete_check(sub) -> None:
    """``error_if_incomplete``: refuse (402) before changing anything if the charge would fail."""
    from .subscriptions import _pm_to_charge

    pm = _pm_to_charge(sub)
    if pm is None:
        raise invalid_request(
            "This customer has no attached payment source or default payment method. Please "
            "consider adding a default payment method.",
            code="resource_missing",
        )
    if pm._charging_is_declined():
        cards.raise_decline(pm)
    if cards.requires_authentication(pm):
        code, decline_code, message = cards.AUTH_REQUIRED
        raise card_error(message, code=code, decline_code=decline_code)


def _set_state(change: PriceChange, plan, period: dict, anchor: int) -> None:
    change.item.plan = plan
    change.item._fs_period = dict(period)
    change.sub.quantity = 1
    change.sub.billing_cycle_anchor = anchor


def apply_change(change: PriceChange, payment_behavior: str) -> None:
    """Make the price change on the subscription (inside the caller's ``changes()`` block)."""
    sub = change.sub
    if change.invoices_now and payment_behavior == "error_if_incomplete":
        _error_if_incomplete_check(sub)
    old_anchor = sub.billing_cycle_anchor or sub.start_date
    new_anchor = change.now if change.reset else old_anchor
    new_period = change.new_period
    _set_state(change, change.new_plan, new_period, new_anchor)
    proration_items(change)  # pending: the invoice below (or the next one) takes them
    if not change.invoices_now:
        return
    # through the method, so what wraps it (coupons) sees this invoice too
    invoice = sub._create_invoice(
        billing_reason="subscription_update", collect_now=False, with_items=change.reset
    )
    pending = payment_behavior == "pending_if_incomplete"
    invoice._fs_pending_update = pending
    if invoice.status == "open" and payment_behavior != "default_incomplete":
        sub._fs_collect(invoice, off_session=False)
    if invoice.status == "paid":
        return
    if not pending:
        # allow_incomplete / default_incomplete: the change stays, the payment is owed
        sub.status = "past_due"
        return
    # Stripe's pending update: nothing changes until this invoice is paid.
    item_export = change.item._export()
    sub._fs_pending = {
        "invoice": invoice.id,
        "plan": change.new_plan.id,
        "period": new_period,
        "anchor": new_anchor,
    }
    sub.pending_update = {
        "billing_cycle_anchor": new_anchor if change.reset else None,
        "discounts": None,
        "expires_at": change.now + PENDING_UPDATE_TTL,
        "subscription_items": [item_export],
        "trial_end": None,
        "trial_from_plan": None,
    }
    _set_state(change, change.old_plan, change.old_period, old_anchor)


def on_invoice_paid(sub, invoice) -> None:
    """A paid pending-update invoice applies its change (the caller emits the event)."""
    pending = getattr(sub, "_fs_pending", None)
    if not pending or pending["invoice"] != invoice.id:
        return
    item = sub.items._list[0]
    item.plan = R.Plan._api_retrieve(pending["plan"])
    item._fs_period = dict(pending["period"])
    sub.billing_cycle_anchor = pending["anchor"]
    discard_pending(sub)
    emit("customer.subscription.pending_update_applied", sub)


def discard_pending(sub) -> None:
    sub._fs_pending = None
    sub.pending_update = None


def on_invoice_voided(sub, invoice) -> None:
    """Voiding the pending update's invoice discards the update."""
    pending = getattr(sub, "_fs_pending", None)
    if pending and pending["invoice"] == invoice.id:
        discard_pending(sub)


# -- previews ----------------------------------------------------------------------------------


def apply_discounts(invoice, discounts, *, customer: str, subscription=None) -> None:
    """The preview's discounts: ``discounts[]`` of the request, else the subscription's own.

    ``invoice`` is the unsaved preview (a localstripe ``Invoice`` with its lines; nothing of it
    stays stored after the answer), ``discounts`` the request's top-level ``discounts`` (a list
    of ``{"coupon"|"promotion_code"|"discount": id}``) or None, ``subscription`` the subscription
    previewed (None for a new one). ``coupons`` (engineer S2's module) checks them as on a
    subscription create and applies them the way the real invoice will be discounted, so the
    preview's ``amount_due`` is the charge.
    """
    from . import coupons

    items = [
        {"plan": line.plan.id}
        for line in invoice.lines._list
        if line.type == "subscription" and getattr(line, "plan", None) is not None
    ]
    found = coupons.preview_discounts(
        discounts, customer=customer, items=items, subscription=subscription
    )
    coupons.attach_preview_discounts(invoice, found)


class _Preview:
    """What ``create_preview`` answers: exported once, then its objects leave the store."""

    def __init__(self, invoice, temporary: list) -> None:
        self.invoice = invoice
        self.temporary = temporary

    def _export(self, expand=None) -> dict:
        try:
            obj = self.invoice._export(expand=expand)
        finally:
            _forget([self.invoice, *self.invoice.lines._list, *self.temporary])
        obj["id"] = "upcoming_" + self.invoice.id
        for line in (obj.get("lines") or {}).get("data", []):
            line["invoice"] = obj["id"]
        return obj


def _forget(objects) -> None:
    for obj in objects:
        key = f"{obj.object}:{obj.id}"
        if key in R.store:
            del R.store[key]


def _temporary_item(sub_id, plan, period: dict):
    """A subscription item that only exists to make a preview line (removed afterwards)."""
    item = R.SubscriptionItem(subscription=None, plan=plan.id)
    item._subscription = sub_id
    item._fs_period = dict(period)
    return item


def _preview_invoice(
    customer: str, sub, items: list, temporary: list, billing_reason: str, usage_period=None
):
    R.Invoice._fs_billing_reason = billing_reason
    try:
        invoice = R.Invoice(
            customer=customer,
            subscription=sub.id if sub is not None else None,
            items=items,
            simulation=True,
        )
    finally:
        R.Invoice._fs_billing_reason = None
    invoice._fs_billing_reason = billing_reason
    invoice._fs_usage_period = usage_period
    for line in invoice.lines._list:
        if line.type == "subscription" and sub is not None:
            line.subscription_item = sub.items._list[0].id  # the real item, as the update's
    return invoice


PREVIEW_DETAILS = ("items", "proration_behavior", "proration_date", "billing_cycle_anchor")


def create_preview(
    cls,
    customer=None,
    subscription=None,
    subscription_details=None,
    discounts=None,
    preview_mode=None,
    automatic_tax=None,
    currency=None,
    **kwargs,
):
    """``POST /v1/invoices/create_preview`` (see the module docstring)."""
    unknown_parameter(kwargs)
    details = subscription_details if subscription_details is not None else {}
    if not isinstance(details, dict):
        raise invalid_request("Invalid object", param="subscription_details")
    unknown_parameter(
        {f"subscription_details[{k}]": v for k, v in details.items() if k not in PREVIEW_DETAILS}
    )
    if discounts is not None and not isinstance(discounts, list | str):
        raise invalid_request("Invalid array", param="discounts")
    if discounts == "":
        discounts = []
    sub = None
    if subscription is not None:
        sub = R.Subscription._api_retrieve(subscription)
        if customer is not None and customer != sub.customer:
            raise invalid_request(
                f"The subscription {sub.id} does not belong to the customer {customer}.",
                param="subscription",
            )
        customer = sub.customer
    if not isinstance(customer, str) or not customer:
        raise invalid_request(
            "Missing required param: customer (or subscription).", param="customer"
        )
    R.Customer._api_retrieve(customer)
    temporary: list = []
    try:
        if sub is None:
            invoice = _new_subscription_preview(customer, details, temporary)
        else:
            invoice = _subscription_preview(sub, details, temporary)
        apply_discounts(invoice, discounts, customer=customer, subscription=sub)
    except BaseException:
        _forget(temporary)
        raise
    return _Preview(invoice, temporary)


def _new_subscription_preview(customer: str, details: dict, temporary: list):
    from .subscriptions import _add_interval, _translate_items

    items = _translate_items(details.get("items"), param="subscription_details[items]")
    if not items:
        raise invalid_request(
            "Nothing to invoice for customer: give subscription_details[items][0][price] "
            "(or a subscription).",
            code="invoice_no_customer_line_items",
        )
    if len(items) != 1 or not items[0].get("plan"):
        raise invalid_request(
            "The stand-in previews one price: subscription_details[items][0][price].",
            param="subscription_details[items]",
        )
    plan = R.Plan._api_retrieve(items[0]["plan"])
    now = int(time.time())
    item = _temporary_item(None, plan, {"start": now, "end": _add_interval(now, plan)})
    temporary.append(item)
    return _preview_invoice(customer, None, [item], temporary, "subscription_create")


def _subscription_preview(sub, details: dict, temporary: list):
    from .subscriptions import ENDED, _add_interval

    if sub.status in ENDED:
        raise invalid_request(
            f"No upcoming invoices for customer: {sub.customer}",
            code="invoice_upcoming_none",
            status=404,
        )
    change = compute(
        sub,
        details.get("items"),
        details.get("proration_behavior"),
        details.get("proration_date"),
        param="subscription_details[items]",
    )
    if change is not None:
        prorations = proration_items(change)
        temporary.extend(prorations)
        if change.reset:
            item = _temporary_item(sub.id, change.new_plan, change.new_period)
            temporary.append(item)
            return _preview_invoice(
                sub.customer, sub, [*prorations, item], temporary, "subscription_update"
            )
        if change.proration_behavior == "always_invoice":
            return _preview_invoice(sub.customer, sub, prorations, temporary, "subscription_update")
        next_plan = change.new_plan
    else:
        prorations = []
        next_plan = _plan_at_period_end(sub)
    if sub.cancel_at_period_end:
        raise invalid_request(
            f"No upcoming invoices for customer: {sub.customer}",
            code="invoice_upcoming_none",
            status=404,
        )
    period = sub.items._list[0]._current_period()
    start = period["end"]
    item = _temporary_item(
        sub.id, next_plan, {"start": start, "end": _add_interval(start, next_plan)}
    )
    temporary.append(item)
    return _preview_invoice(
        sub.customer,
        sub,
        [*prorations, item],
        temporary,
        "subscription_cycle",
        usage_period=(period["start"], period["end"]),
    )


def _plan_at_period_end(sub):
    """The price the next renewal bills: the schedule's next phase's if it starts then."""
    from . import schedules

    plan = schedules.plan_for_renewal(sub)
    return plan if plan is not None else sub.items._list[0].plan


def apply() -> None:
    R.Invoice._api_create_preview_invoice = classmethod(create_preview)
