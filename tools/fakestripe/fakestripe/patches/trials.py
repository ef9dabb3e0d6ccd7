"""Free trials on subscriptions, as Stripe runs them (current API shape).

Reproduces (localstripe gaps in brackets):

* ``POST /v1/subscriptions`` with ``trial_period_days`` (1-730) or ``trial_end`` (a timestamp in
  the future, at most 730 days away; ``now`` = no trial): ``status: trialing`` from the start
  (``customer.subscription.created`` already says so), ``trial_start``, ``trial_end``, the items'
  ``current_period_start/end`` = the trial, ``billing_cycle_anchor`` = the trial's end, and a
  first invoice (``billing_reason: subscription_create``) of USD 0 — one line "Trial period for
  <product>" — that is ``paid`` at once [localstripe: no invoice, ``incomplete``].
  ``payment_behavior=error_if_incomplete`` does not need a card during a trial.
* ``trial_settings[end_behavior][missing_payment_method]`` ``create_invoice`` (default) /
  ``cancel`` / ``pause`` [ignored].
* ``pending_setup_intent``: when the subscription has no ``default_payment_method`` and either
  ``payment_settings[save_default_payment_method]=on_subscription`` or
  ``payment_behavior=default_incomplete``, a SetupIntent for the customer (``usage:
  off_session``, expandable: ``expand[]=pending_setup_intent``) whose ``client_secret`` the
  browser confirms (``stripe.confirmSetup`` / ``confirmCardSetup``, or ``POST
  /v1/setup_intents/{id}/confirm``). Once it succeeds the card is attached to the customer, made
  the subscription's ``default_payment_method`` (with ``save_default_payment_method=
  on_subscription``) and ``pending_setup_intent`` is cleared — one
  ``customer.subscription.updated``.
* Test-clock stand-ins: ``POST /_config/subscriptions/{id}/trial_will_end`` sends
  ``customer.subscription.trial_will_end`` (Stripe sends it three days before the end);
  ``POST /_config/subscriptions/{id}/end_trial`` ends the trial now:

  - ``cancel_at_period_end`` (or a ``cancel_at`` at or before the trial's end) → ``canceled``,
    ``customer.subscription.deleted``, nothing charged;
  - with a card (the subscription's default, else the customer's) → a new period from now
    (``trial_end`` = now), ``active``, an invoice (``subscription_cycle``; its
    ``period_start/end`` = the trial) for the price, discounts applied (a ``once`` coupon was
    kept for it: the trial's USD 0 invoice does not use it up), charged off session →
    ``invoice.created/finalized/paid/payment_succeeded`` + ``customer.subscription.updated``; a
    declining card → invoice ``open``, ``past_due``, ``invoice.payment_failed``, as a failed
    renewal; an always-authenticate card → also ``invoice.payment_action_required``;
  - no card: ``missing_payment_method=cancel`` → ``canceled`` (``customer.subscription.deleted``);
    ``pause`` → ``paused`` (``customer.subscription.paused``); ``create_invoice`` → the invoice
    is made and cannot be paid: ``open``, ``past_due``.

  Cancelling during the trial (``DELETE``, or ``cancel_at_period_end`` then ``end_trial``) never
  charges anything.

Not reproduced: ``trial_from_plan`` / a price's ``recurring.trial_period_days``, ending a trial
early with ``trial_end=now`` on an update, resuming a ``paused`` subscription, trial offers
(``trial_settings`` beyond ``end_behavior``), and real time (the helpers are the clock).
"""

from __future__ import annotations

import time

from localstripe import resources as R

from ..errors import invalid_request
from . import subscriptions
from .events import emit

MAX_TRIAL_DAYS = 730
END_BEHAVIORS = ("cancel", "create_invoice", "pause")
DEFAULT_TRIAL_SETTINGS = {"end_behavior": {"missing_payment_method": "create_invoice"}}


def _trial_settings(value) -> dict:
    if value is None:
        return {"end_behavior": dict(DEFAULT_TRIAL_SETTINGS["end_behavior"])}
    behavior = None
    if isinstance(value, dict) and isinstance(value.get("end_behavior"), dict):
        behavior = value["end_behavior"].get("missing_payment_method")
    if behavior not in END_BEHAVIORS:
        raise invalid_request(
            "Invalid trial_settings[end_behavior][missing_payment_method]: must be one of "
            "cancel, create_invoice, or pause",
            param="trial_settings[end_behavior][missing_payment_method]",
        )
    return {"end_behavior": {"missing_payment_method": behavior}}


def prepare(sub, kwargs: dict) -> bool:
    """Take the trial parameters out of a create call's ``kwargs`` (checked as Stripe does);
    True when the subscription starts with a trial. Called before the subscription exists."""
    trial_end = kwargs.pop("trial_end", None)
    days = kwargs.pop("trial_period_days", None)
    sub.trial_settings = _trial_settings(kwargs.pop("trial_settings", None))
    now = int(time.time())
    end = None
    if trial_end is not None and days is not None:
        raise invalid_request(
            "You may only specify one of these parameters: trial_end, trial_period_days."
        )
    if days is not None:
        days = R.try_convert_to_int(days)
        if not isinstance(days, int) or not 0 <= days <= MAX_TRIAL_DAYS:
            raise invalid_request(
                f"Invalid trial_period_days: must be an integer from 0 to {MAX_TRIAL_DAYS}",
                param="trial_period_days",
            )
        # (counted from the subscription's start: see _start_trial)
        end = now + days * 86400 if days else None
    elif trial_end is not None and trial_end != "now":
        trial_end = R.try_convert_to_int(trial_end)
        if not isinstance(trial_end, int) or trial_end <= now:
            raise invalid_request(
                "Invalid timestamp: must be an integer Unix timestamp in the future.",
                param="trial_end",
            )
        if trial_end > now + MAX_TRIAL_DAYS * 86400:
            raise invalid_request(
                f"Invalid timestamp: can be no more than {MAX_TRIAL_DAYS} days in the future.",
                param="trial_end",
            )
        end = trial_end
    sub._fs_trial_end = end
    sub._fs_trial_days = days if trial_end is None else None
    return end is not None


def _start_trial(sub) -> None:
    """The subscription being created starts trialing (before its first invoice exists)."""
    end = sub._fs_trial_end
    if getattr(sub, "_fs_trial_days", None):  # whole days from the start, as Stripe counts
        end = sub.start_date + sub._fs_trial_days * 86400
    sub._fs_trial_end = None
    sub.status = "trialing"
    sub.trial_start = sub.start_date
    sub.trial_end = end
    sub.billing_cycle_anchor = end
    for item in sub.items._list:
        item._fs_period = {"start": sub.start_date, "end": end}


def _wants_setup_intent(sub) -> bool:
    if getattr(sub, "default_payment_method", None):
        return False
    save = (getattr(sub, "payment_settings", None) or {}).get("save_default_payment_method")
    behavior = getattr(sub, "_fs_payment_behavior", None)
    return save == "on_subscription" or behavior == "default_incomplete"


def _wrap_create_invoice(prev):
    def create_invoice(self, *args, **kwargs):
        if getattr(self, "_fs_trial_end", None) is None or not getattr(self, "_fs_in_init", False):
            return prev(self, *args, **kwargs)
        _start_trial(self)
        R.Invoice._fs_trial_lines = True
        try:
            invoice = prev(self, *args, **kwargs)
        finally:
            R.Invoice._fs_trial_lines = False
        if _wants_setup_intent(self):
            intent = R.SetupIntent._api_create(customer=self.customer, usage="off_session")
            intent._fs_subscription = self.id
            self.pending_setup_intent = intent.id
        return invoice

    return create_invoice


def _wrap_line_init(prev):
    def line_init(self, item):
        prev(self, item)
        if getattr(R.Invoice, "_fs_trial_lines", False) and self.type == "subscription":
            product = R.store.get("product:" + str(self.plan.product))
            name = getattr(product, "name", None) or self.plan.id
            self.amount = 0
            self.description = f"Trial period for {name}"

    return line_init


def on_setup_succeeded(intent, pm) -> None:
    """A subscription's pending SetupIntent succeeded: its card pays the subscription."""
    sub_id = getattr(intent, "_fs_subscription", None)
    sub = R.store.get("subscription:" + sub_id) if sub_id else None
    if sub is None or getattr(sub, "pending_setup_intent", None) != intent.id:
        return
    with subscriptions.changes(sub):
        sub.pending_setup_intent = None
        save = (sub.payment_settings or {}).get("save_default_payment_method")
        if save == "on_subscription" and sub.status not in subscriptions.ENDED:
            sub.default_payment_method = pm.id


def trial_will_end(sub_id: str):
    """``customer.subscription.trial_will_end`` now (Stripe: three days before the end)."""
    sub = R.Subscription._api_retrieve(sub_id)
    if sub.status != "trialing":
        raise invalid_request(f"The subscription is not trialing (status: {sub.status}).")
    emit("customer.subscription.trial_will_end", sub)
    return sub


def end_trial(sub_id: str):
    """The trial ends now: cancel, charge the first period, or apply missing_payment_method."""
    sub = R.Subscription._api_retrieve(sub_id)
    if sub.status != "trialing":
        raise invalid_request(f"The subscription is not trialing (status: {sub.status}).")
    if sub.cancel_at_period_end or (sub.cancel_at and sub.cancel_at <= sub.trial_end):
        subscriptions._end(sub)
        return sub
    pm = subscriptions._pm_to_charge(sub)
    behavior = (sub.trial_settings or DEFAULT_TRIAL_SETTINGS)["end_behavior"][
        "missing_payment_method"
    ]
    if pm is None and behavior == "cancel":
        with subscriptions.changes(sub):
            sub.trial_end = int(time.time())
        subscriptions._end(sub)
        return sub
    if pm is None and behavior == "pause":
        with subscriptions.changes(sub):
            sub.status = "paused"
            sub.pause_collection = None
        emit("customer.subscription.paused", sub)
        return sub
    now = int(time.time())
    with subscriptions.changes(sub):
        trial_start = sub.trial_start
        sub.trial_end = now
        sub.billing_cycle_anchor = now
        for item in sub.items._list:
            item._fs_period = {"start": now, "end": subscriptions._add_interval(now, item.plan)}
        sub.status = "active"
        invoice = sub._create_invoice(
            billing_reason="subscription_cycle",
            collect_now=False,
            usage_period=(trial_start, now),
        )
        subscriptions.collect(sub, invoice, off_session=True, automatic=True)
    return sub


def apply() -> None:
    Sub = R.Subscription
    Sub._create_invoice = _wrap_create_invoice(Sub._create_invoice)
    R.Invoice._fs_trial_lines = False
    R.InvoiceLineItem.__init__ = _wrap_line_init(R.InvoiceLineItem.__init__)
