"""Subscriptions on Prices, in the current shape, with every lifecycle event.

Reproduces (localstripe gaps in brackets):

* ``items[][price]`` [only ``plan``]; one-time prices refused like Stripe.
* ``payment_behavior``: ``default_incomplete`` [refused] — status ``incomplete``, first invoice
  ``open`` with a PaymentIntent waiting for confirmation, nothing charged;
  ``allow_incomplete`` (default) — charges the default payment method now, stays
  ``incomplete`` on a decline / 3-D Secure, no payment method means like default_incomplete
  [localstripe: 404]; ``error_if_incomplete`` — a decline or required authentication is a 402
  and nothing is created; ``pending_if_incomplete`` treated as allow_incomplete.
* ``default_payment_method`` (must belong to the customer; test ids are attached on the fly),
  ``payment_settings[save_default_payment_method]=on_subscription`` (the card that pays the first
  invoice becomes the subscription's default), ``metadata``, ``description``.
* Current shape: ``items.data[].current_period_start/end`` and ``items.data[].price``; no
  subscription-level ``current_period_*`` / ``plan`` / ``quantity``; ``default_tax_rates: []``
  [null]; ``cancellation_details``, ``payment_settings``, ``billing_cycle_anchor``...
* ``cancel_at_period_end=true/false`` (sets/clears ``cancel_at`` and ``canceled_at``,
  ``cancellation_details.reason``); ``DELETE /v1/subscriptions/{id}`` → ``canceled``; a canceled
  subscription only accepts ``metadata`` / ``cancellation_details`` updates.
* ``GET /v1/subscriptions`` with ``customer``, ``status`` (incl. ``all``), ``price``.
* Events: ``customer.subscription.created``, then ``customer.subscription.updated`` with
  ``data.previous_attributes`` on *every* change (incomplete→active, cancel_at_period_end,
  default payment method saved, renewal, past_due...), ``customer.subscription.deleted``.
  A failed first payment leaves the subscription ``incomplete`` (Stripe), not deleted.
* Test-clock stand-ins (``/_config/subscriptions/{id}/renew|fail_renewal|expire_incomplete``,
  ``/_config/invoices/{id}/retry``): a renewal charges the default card off session — a decline
  or an always-authenticate card leaves the invoice ``open`` (PaymentIntent
  ``requires_payment_method`` / ``requires_action``) and the subscription ``past_due``, with
  ``invoice.payment_failed`` (and ``invoice.payment_action_required`` for authentication), as
  Stripe does off session; ``attempt_count`` / ``next_payment_attempt`` follow the Smart Retries
  schedule (``invoices.RETRY_DAYS``); a retry that pays makes the subscription ``active`` again.
  The renewal invoice's ``period_start/end`` is the period that ended (Stripe's usage period).
  A subscription schedule's phase ending there switches the price first (``schedules.py``).
  [localstripe: no renewals at all.]
* Price changes (``items[0][id|price]``, prorations, pending updates) are ``plan_change.py``'s;
  a subscription with a ``schedule`` refuses ``cancel_at_period_end`` / ``cancel_at`` (Stripe's
  sentence), and canceling it cancels the schedule.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from localstripe import resources as R

from ..errors import card_error, invalid_request
from . import cards, plan_change, schedules
from .events import emit
from .export import unknown_parameter
from .prices import price_for_plan

Sub = R.Subscription
_orig_init = Sub.__init__
_orig_update = Sub._update
_orig_list_all = Sub._api_list_all
_orig_current_period = R.SubscriptionItem._current_period

PAYMENT_BEHAVIORS = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)
IGNORED_CREATE_PARAMS = (
    "off_session",
    "automatic_tax",
    "collection_method",
    "currency",
    "billing_mode",
    "payment_settings_ignored",
)
ENDED = ("canceled", "incomplete_expired")

SUB_DEFAULTS: dict[str, Any] = {
    "application": None,
    "application_fee_percent": None,
    "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
    "billing_cycle_anchor_config": None,
    "billing_mode": {"type": "classic"},
    "billing_thresholds": None,
    "collection_method": "charge_automatically",
    "days_until_due": None,
    "default_source": None,
    "description": None,
    "discounts": [],
    "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
    "next_pending_invoice_item_invoice": None,
    "on_behalf_of": None,
    "pause_collection": None,
    "pending_invoice_item_interval": None,
    "pending_setup_intent": None,
    "pending_update": None,
    "schedule": None,
    "test_clock": None,
    "transfer_data": None,
    "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
}
LEGACY_SUB_FIELDS = (
    "current_period_start",
    "current_period_end",
    "plan",
    "quantity",
    "tax_percent",
    "trial_from_plan",
    "trial_period_days",
    "discount",
    "billing",
    "days_until_due_legacy",
)

# -- previous_attributes bookkeeping -----------------------------------------------------------

_batches: dict[str, dict] = {}


def _diff(before: dict, after: dict) -> dict:
    return {k: v for k, v in before.items() if after.get(k) != v}


def emit_updated(sub, before: dict) -> None:
    """``customer.subscription.updated`` with ``previous_attributes``, if anything changed."""
    if sub.id in _batches:
        return  # the enclosing changes() block emits one event for everything
    previous = _diff(before, sub._export())
    if previous:
        emit("customer.subscription.updated", sub, previous_attributes=previous)


@contextlib.contextmanager
def changes(sub):
    """Group every change made inside into one ``customer.subscription.updated`` event."""
    if sub.id in _batches:
        yield
        return
    before = sub._export()
    _batches[sub.id] = before
    try:
        yield
    finally:
        del _batches[sub.id]
    if sub.status != "canceled" or before.get("status") == "canceled":
        emit_updated(sub, before)


# -- items / periods ---------------------------------------------------------------------------


def _add_interval(ts: int, plan) -> int:
    d = datetime.fromtimestamp(ts)
    n = plan.interval_count or 1
    step = {
        "day": relativedelta(days=n),
        "week": relativedelta(weeks=n),
        "month": relativedelta(months=n),
        "year": relativedelta(years=n),
    }[plan.interval]
    return int((d + step).timestamp())


def item_current_period(self):
    period = getattr(self, "_fs_period", None)
    if period is not None:
        return dict(period)
    period = _orig_current_period(self)
    plan = self.plan
    period["end"] = _add_interval(period["start"], plan)
    return period


def _item_shape(self, obj):
    period = self._current_period()
    obj["current_period_start"] = period["start"]
    obj["current_period_end"] = period["end"]
    obj["price"] = price_for_plan(self.plan)
    obj["subscription"] = self._subscription
    obj["discounts"] = []
    obj["billing_thresholds"] = None
    obj.pop("invoice", None)
    obj["tax_rates"] = obj.get("tax_rates") or []
    return obj


def _translate_items(items, param="items"):
    """``items[][price]`` -> localstripe's ``items[][plan]`` (a recurring Price's Plan)."""
    if items is None:
        return None
    if not isinstance(items, list):
        raise invalid_request("Invalid array", param=param)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid_request("Invalid object", param=f"{param}[{i}]")
        item = dict(item)
        if "price_data" in item:
            raise invalid_request(
                "items[][price_data] is not supported offline; create a Price.",
                param=f"{param}[{i}][price_data]",
            )
        price_id = item.pop("price", None)
        if price_id is not None:
            price = R.store.get("price:" + str(price_id))
            if price is None and R.store.get("plan:" + str(price_id)) is None:
                raise invalid_request(
                    f"No such price: '{price_id}'",
                    code="resource_missing",
                    param=f"{param}[{i}][price]",
                )
            if price is not None and price.type != "recurring":
                raise invalid_request(
                    "The price specified is set to `type=one_time` but this field only accepts "
                    "prices with `type=recurring`.",
                    param=f"{param}[{i}][price]",
                )
            if price is not None and not price.active:
                raise invalid_request(
                    f"The price specified is inactive: {price_id}", param=f"{param}[{i}][price]"
                )
            item["plan"] = price_id
        for key in ("discounts", "billing_thresholds"):
            item.pop(key, None)
        out.append(item)
    return out


# -- creation ----------------------------------------------------------------------------------


def _customer_default_pm(customer_id: str):
    customer = R.Customer._api_retrieve(customer_id)
    return customer._get_default_payment_method_or_source()


def _pm_to_charge(sub):
    if getattr(sub, "default_payment_method", None):
        return R.PaymentMethod._api_retrieve(sub.default_payment_method)
    return _customer_default_pm(sub.customer)


def sub_init(
    self,
    customer=None,
    items=None,
    payment_behavior="allow_incomplete",
    default_payment_method=None,
    payment_settings=None,
    description=None,
    cancel_at_period_end=None,
    **kwargs,
):
    for key in IGNORED_CREATE_PARAMS:
        kwargs.pop(key, None)
    if payment_behavior not in PAYMENT_BEHAVIORS:
        raise invalid_request(
            f"Invalid payment_behavior: must be one of {', '.join(PAYMENT_BEHAVIORS)}",
            param="payment_behavior",
        )
    if not isinstance(customer, str) or not customer:
        raise invalid_request("Missing required param: customer.", param="customer")
    R.Customer._api_retrieve(customer)
    items = _translate_items(items)
    if not items:
        raise invalid_request("Missing required param: items.", param="items")
    pm = None
    if default_payment_method:
        pm = cards.customer_payment_method(
            customer, default_payment_method, "default_payment_method"
        )
    save = "off"
    if isinstance(payment_settings, dict):
        save = payment_settings.get("save_default_payment_method") or "off"
        if save not in ("off", "on_subscription"):
            raise invalid_request(
                "Invalid save_default_payment_method",
                param="payment_settings[save_default_payment_method]",
            )
    from . import trials  # (trials imports this module)

    has_trial = trials.prepare(self, kwargs)  # the trial starts in the first create_invoice
    if payment_behavior == "error_if_incomplete" and not has_trial:
        charge_pm = pm or _customer_default_pm(customer)
        if charge_pm is None:
            raise invalid_request(
                "This customer has no attached payment source or default "
                "payment method. Please consider adding a default payment "
                "method.",
                code="resource_missing",
            )
        if charge_pm._charging_is_declined():
            cards.raise_decline(charge_pm)
        if cards.requires_authentication(charge_pm):
            code, decline_code, message = cards.AUTH_REQUIRED
            raise card_error(message, code=code, decline_code=decline_code)

    self._fs_payment_behavior = payment_behavior
    self._fs_in_init = True
    self.default_payment_method = pm.id if pm else None
    self.payment_settings = {
        "payment_method_options": None,
        "payment_method_types": None,
        "save_default_payment_method": save,
    }
    self.description = description
    self.cancellation_details = {"comment": None, "feedback": None, "reason": None}
    legacy_behavior = (
        "error_if_incomplete" if payment_behavior == "error_if_incomplete" else "allow_incomplete"
    )
    try:
        _orig_init(self, customer=customer, items=items, payment_behavior=legacy_behavior, **kwargs)
    except TypeError as e:  # unknown keyword
        raise invalid_request(f"Received unknown parameter: {e}") from None
    finally:
        self._fs_in_init = False
    for item in self.items._list:
        if getattr(item, "_fs_period", None) is None:  # (a trial has set it to the trial)
            item._fs_period = _orig_current_period(item)
            item._fs_period["end"] = _add_interval(item._fs_period["start"], item.plan)
    self.billing_cycle_anchor = self.billing_cycle_anchor or self.start_date
    if payment_behavior != "default_incomplete" and not has_trial:
        with changes(self):
            self._fs_collect(R.Invoice._api_retrieve(self.latest_invoice), off_session=False)
    if R.try_convert_to_bool(cancel_at_period_end):
        Sub._api_update(self.id, cancel_at_period_end=True)


def create_invoice(self, billing_reason=None, collect_now=None, usage_period=None, with_items=True):
    """Create + finalise the next invoice and its PaymentIntent; pay it unless in creation.

    ``usage_period``: ``(start, end)`` of the period that ended (a renewal's invoice-level
    ``period_start``/``period_end``, Stripe's "usage period"; the lines carry the new one).
    ``with_items=False``: only the pending invoice items (an ``always_invoice`` proration).
    """
    billing_reason = billing_reason or (
        "subscription_create" if getattr(self, "_fs_in_init", False) else "subscription_update"
    )
    pending_items = [
        ii
        for ii in R.InvoiceItem._api_list_all(None, customer=self.customer, limit=99)._list
        if ii.invoice is None
    ]
    if with_items:
        pending_items.extend(self.items._list)
    # localstripe's constructor already sends invoice.created: class-level values make that
    # event carry this invoice's billing_reason and period too (one request at a time).
    R.Invoice._fs_billing_reason = billing_reason
    R.Invoice._fs_usage_period = usage_period
    try:
        invoice = R.Invoice(
            customer=self.customer,
            subscription=self.id,
            items=pending_items,
            tax_percent=self.tax_percent,
            default_tax_rates=[tr.id for tr in (self.default_tax_rates or [])],
            date=self.current_period_start,
        )
    finally:
        R.Invoice._fs_billing_reason = None
        R.Invoice._fs_usage_period = None
    invoice._fs_billing_reason = billing_reason
    invoice._fs_usage_period = usage_period
    invoice._finalize()
    self.latest_invoice = invoice.id
    if invoice.total > 0:
        pi = R.PaymentIntent(
            amount=invoice.total, currency=invoice.currency, customer=self.customer
        )
        pi.invoice = invoice.id
        pi.description = (
            "Subscription creation"
            if invoice._fs_billing_reason == "subscription_create"
            else "Subscription update"
        )
        if self.payment_settings.get("save_default_payment_method") == "on_subscription":
            pi.setup_future_usage = "off_session"
        default_pm = _pm_to_charge(self)
        if default_pm is not None:  # Stripe pre-fills it: `requires_confirmation`
            pi.payment_method = default_pm.id
        invoice.payment_intent = pi.id
    else:
        invoice._on_payment_success()
    if collect_now is None:
        collect_now = not getattr(self, "_fs_in_init", False)
    if collect_now and invoice.status == "open":
        self._fs_collect(invoice, off_session=False)
    return invoice


def collect(self, invoice, off_session, automatic=False):
    """Charge ``invoice`` with the default payment method, if there is one (no raise).

    ``automatic``: Stripe's own attempt (renewal, Smart Retry), off session.
    """
    from .payment_intents import confirm_pi

    if invoice.status != "open" or not invoice.payment_intent:
        return
    pm = _pm_to_charge(self)
    pi = R.PaymentIntent._api_retrieve(invoice.payment_intent)
    if pm is None:
        if off_session:
            invoice._fs_note_attempt(automatic)
            invoice._on_payment_failure_now()
        return
    pi.payment_method = pm.id
    confirm_pi(pi, off_session=off_session, raise_errors=False, automatic=automatic)


# -- reactions to payments ---------------------------------------------------------------------


def on_payment_success(self, invoice):
    before = self._export()
    if self.status in ("incomplete", "past_due", "unpaid"):
        self.status = "active"
    pi = R.store.get("payment_intent:" + str(invoice.payment_intent))
    save = (getattr(self, "payment_settings", None) or {}).get("save_default_payment_method")
    if pi is not None and pi.payment_method and save == "on_subscription":
        pm = R.PaymentMethod._api_retrieve(pi.payment_method)
        if getattr(pm, "customer", None) is None:
            cards.attach_to_customer(pm, self.customer)
        self.default_payment_method = pm.id
    plan_change.on_invoice_paid(self, invoice)  # a paid pending update applies now
    emit_updated(self, before)


def on_recurring_payment_failure(self, invoice):
    if getattr(invoice, "_fs_pending_update", False):
        return  # Stripe: a failed pending update leaves the subscription as it was
    before = self._export()
    if self.status not in ENDED:
        self.status = "past_due"
    emit_updated(self, before)


def _noop(self, invoice):
    """Stripe keeps a subscription ``incomplete`` after a failed first payment (23 h)."""


# -- updates / cancel / list -------------------------------------------------------------------

UPDATE_EXTRAS = (
    "default_payment_method",
    "payment_behavior",
    "proration_behavior",
    "payment_settings",
    "description",
    "cancellation_details",
    "off_session",
    "collection_method",
    "billing_cycle_anchor",
    "automatic_tax",
)


def api_update(cls, id, **data):
    obj = cls._api_retrieve(id)
    if obj.status in ENDED and set(data) - {"metadata", "cancellation_details"}:
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    extras = {k: data.pop(k) for k in UPDATE_EXTRAS if k in data}
    if getattr(obj, "schedule", None) and ("cancel_at_period_end" in data or "cancel_at" in data):
        raise invalid_request(
            f"The subscription is managed by the subscription schedule `{obj.schedule}`, and "
            "updating any cancelation behavior directly is not allowed. Please update the "
            "schedule instead."
        )
    payment_behavior = extras.get("payment_behavior") or "allow_incomplete"
    if payment_behavior not in PAYMENT_BEHAVIORS:
        raise invalid_request(
            f"Invalid payment_behavior: must be one of {', '.join(PAYMENT_BEHAVIORS)}",
            param="payment_behavior",
        )
    # A price change (items[0][id] + items[0][price]) is plan_change's: prorations, pending
    # updates; checked here, before anything changes.
    price_change = plan_change.compute(
        obj, data.pop("items", None), extras.get("proration_behavior"), data.get("proration_date")
    )
    data.pop("proration_date", None)
    if "cancel_at" in data and data["cancel_at"] == "":
        data.pop("cancel_at")
        extras["clear_cancel_at"] = True
    allowed = {
        "metadata",
        "items",
        "trial_end",
        "default_tax_rates",
        "tax_percent",
        "plan",
        "quantity",
        "prorate",
        "proration_date",
        "cancel_at_period_end",
        "cancel_at",
    }
    unknown_parameter({k: v for k, v in data.items() if k not in allowed})
    with changes(obj):
        metadata = data.pop("metadata", None)
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                if value == "":
                    obj.metadata.pop(key, None)
                else:
                    obj.metadata[key] = value
        elif metadata == "":
            obj.metadata = {}
        cap = data.pop("cancel_at_period_end", None)
        if price_change is not None:
            plan_change.apply_change(price_change, payment_behavior)
        if data:
            _orig_update(obj, **data)
        if cap is not None:
            cap = R.try_convert_to_bool(cap)
            if not isinstance(cap, bool):
                raise invalid_request("Invalid boolean", param="cancel_at_period_end")
            _set_cancel_at_period_end(obj, cap)
        if extras.get("clear_cancel_at"):
            obj.cancel_at = None
        if extras.get("default_payment_method") is not None:
            pm_id = extras["default_payment_method"]
            obj.default_payment_method = (
                cards.customer_payment_method(obj.customer, pm_id, "default_payment_method").id
                if pm_id
                else None
            )
        if isinstance(extras.get("payment_settings"), dict):
            save = extras["payment_settings"].get("save_default_payment_method")
            if save:
                obj.payment_settings["save_default_payment_method"] = save
        if "description" in extras:
            obj.description = extras["description"] or None
        if isinstance(extras.get("cancellation_details"), dict):
            details = dict(obj.cancellation_details)
            for key in ("comment", "feedback"):
                if key in extras["cancellation_details"]:
                    details[key] = extras["cancellation_details"][key] or None
            obj.cancellation_details = details
    return obj


def _set_cancel_at_period_end(obj, cap: bool) -> None:
    obj.cancel_at_period_end = cap
    if cap:
        obj.cancel_at = obj.items._list[0]._current_period()["end"]
        obj.canceled_at = int(time.time())
        obj.cancellation_details = {**obj.cancellation_details, "reason": "cancellation_requested"}
    else:
        obj.cancel_at = None
        obj.canceled_at = None
        obj.cancellation_details = {"comment": None, "feedback": None, "reason": None}


def _end(obj, reason="cancellation_requested") -> None:
    now = int(time.time())
    obj.status = "canceled"
    obj.ended_at = now
    obj.canceled_at = obj.canceled_at or now
    obj.cancellation_details = {**getattr(obj, "cancellation_details", {}), "reason": reason}
    emit("customer.subscription.deleted", obj)


def api_delete(cls, id):
    obj = cls._api_retrieve(id)
    if obj.status in ENDED:
        raise invalid_request(
            f"No such subscription: '{id}'. It has already been canceled.",
            code="resource_missing",
            status=404,
        )
    obj.canceled_at = int(time.time())
    _end(obj)
    schedules.on_subscription_canceled(obj)
    return obj


def api_list_all(
    cls, url, customer=None, status=None, price=None, limit=None, starting_after=None, **kwargs
):
    unknown_parameter(kwargs)
    li = _orig_list_all.__func__(
        cls, url, customer=customer, status=status, limit=limit, starting_after=starting_after
    )
    if price is not None:
        li._list = [s for s in li._list if any(i.plan.id == price for i in s.items._list)]
    return li


def _sub_shape(self, obj):
    for key in LEGACY_SUB_FIELDS:
        obj.pop(key, None)
    for key, value in SUB_DEFAULTS.items():
        obj.setdefault(key, value)
    obj["default_tax_rates"] = obj.get("default_tax_rates") or []
    obj.setdefault("default_payment_method", None)
    obj.setdefault("cancellation_details", {"comment": None, "feedback": None, "reason": None})
    obj.setdefault(
        "payment_settings",
        {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
    )
    obj["billing_cycle_anchor"] = self.billing_cycle_anchor or self.start_date
    obj["currency"] = self.items._list[0].plan.currency if self.items._list else None
    return obj


# -- test-clock stand-ins (/_config/subscriptions/...) ------------------------------------------


def _advance_periods(sub) -> None:
    for item in sub.items._list:
        period = item._current_period()
        item._fs_period = {"start": period["end"], "end": _add_interval(period["end"], item.plan)}


def renew(sub_id: str, fail: bool = False):
    """The current period ends now: start the next one and bill it (or end the subscription)."""
    sub = Sub._api_retrieve(sub_id)
    if sub.status in ENDED or sub.status == "incomplete":
        raise invalid_request(f"Cannot renew a subscription whose status is {sub.status}.")
    if sub.cancel_at_period_end or (
        sub.cancel_at and sub.cancel_at <= sub.items._list[0]._current_period()["end"]
    ):
        _end(sub)
        return sub
    with changes(sub):
        ended = sub.items._list[0]._current_period()
        if schedules.on_period_end(sub):  # the next phase's price, before the new period
            return sub  # the schedule ended with end_behavior=cancel
        _advance_periods(sub)
        if sub.status == "trialing":
            sub.status = "active"
        invoice = sub._create_invoice(  # (the method: coupons/trials wrap it)
            billing_reason="subscription_cycle",
            collect_now=False,
            usage_period=(ended["start"], ended["end"]),
        )
        if fail:
            _failed_renewal_attempt(sub, invoice)
        else:
            collect(sub, invoice, off_session=True, automatic=True)
    return sub


def backdate(sub_id: str, seconds: int):
    """Move the subscription's current period ``seconds`` into the past, as if it had been
    bought that long ago: a proration then credits only the unused part of the period. The
    period must still be running afterwards (its end after now); no events (the clock moved,
    nothing happened)."""
    sub = Sub._api_retrieve(sub_id)
    if sub.status in ENDED or sub.status == "incomplete":
        raise invalid_request(f"Cannot backdate a subscription whose status is {sub.status}.")
    if not isinstance(seconds, int) or seconds <= 0:
        raise invalid_request("seconds must be a positive whole number.", param="seconds")
    periods = [item._current_period() for item in sub.items._list]
    if any(period["end"] - seconds <= int(time.time()) for period in periods):
        raise invalid_request("The period would have ended: use renew instead.", param="seconds")
    for item, period in zip(sub.items._list, periods, strict=True):
        item._fs_period = {"start": period["start"] - seconds, "end": period["end"] - seconds}
    sub.start_date -= seconds
    sub.created -= seconds
    if sub.billing_cycle_anchor:
        sub.billing_cycle_anchor -= seconds
    return sub


def retry_invoice(invoice_id: str):
    """A Smart Retry now: charge the open invoice of a subscription off session with the
    subscription's (else the customer's) default payment method, as Stripe's retry does."""
    invoice = R.Invoice._api_retrieve(invoice_id)
    if invoice.status != "open" or not invoice.subscription:
        kind = "a subscription's" if invoice.subscription else "a one-off"
        raise invalid_request(
            f"Only an open invoice of a subscription is retried (this is {kind}, {invoice.status})."
        )
    sub = Sub._api_retrieve(invoice.subscription)
    if sub.status in ENDED or sub.status == "incomplete":
        raise invalid_request(f"Stripe does not retry invoices of a {sub.status} subscription.")
    with changes(sub):
        collect(sub, invoice, off_session=True, automatic=True)
    return invoice


def _failed_renewal_attempt(sub, invoice):
    """The renewal's automatic attempt fails, whatever the card."""
    if invoice.status != "open":
        return invoice
    pi = R.PaymentIntent._api_retrieve(invoice.payment_intent)
    pm = _pm_to_charge(sub)
    if pm is not None:
        pi.payment_method = pm.id
        charge = R.Charge(
            amount=pi.amount, currency=pi.currency, customer=sub.customer, source=pm.id
        )
        charge.payment_intent = pi.id
        charge._set_auth_failure()  # the card's own decline, else generic_decline
        pi.latest_charge = charge
    invoice._fs_note_attempt(True)
    emit("payment_intent.payment_failed", pi)
    invoice._on_payment_failure_now()
    return invoice


def expire_incomplete(sub_id: str):
    """23 h without a successful first payment: ``incomplete_expired``, invoice void."""
    sub = Sub._api_retrieve(sub_id)
    if sub.status != "incomplete":
        raise invalid_request(f"Only an incomplete subscription can expire (status: {sub.status}).")
    with changes(sub):
        sub.status = "incomplete_expired"
        sub.ended_at = int(time.time())
        invoice = R.Invoice._api_retrieve(sub.latest_invoice) if sub.latest_invoice else None
        if invoice is not None and invoice.status == "open":
            if invoice.payment_intent:
                pi = R.PaymentIntent._api_retrieve(invoice.payment_intent)
                if pi.status != "succeeded":
                    pi._canceled = True
                    pi.next_action = None
            invoice._voided = True
            invoice.status_transitions["voided_at"] = int(time.time())
            emit("invoice.voided", invoice)
    emit("customer.subscription.deleted", sub)
    return sub


def apply() -> None:
    Sub.__init__ = sub_init
    Sub._create_invoice = create_invoice
    Sub._fs_collect = collect
    Sub._on_initial_payment_success = on_payment_success
    Sub._on_initial_payment_failure_now = _noop
    Sub._on_initial_payment_failure_later = _noop
    Sub._on_recurring_payment_failure = on_recurring_payment_failure
    Sub._api_update = classmethod(api_update)
    Sub._api_delete = classmethod(api_delete)
    Sub._api_list_all = classmethod(api_list_all)
    Sub._fs_shape = _sub_shape
    R.SubscriptionItem._current_period = item_current_period
    R.SubscriptionItem._fs_shape = _item_shape
