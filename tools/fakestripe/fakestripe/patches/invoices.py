"""Invoices in the current shape ("basil" and later), with ``invoice.paid``.

Reproduces:

* ``confirmation_secret: {client_secret, type: "payment_intent"}`` — an *includable* field, as
  in Stripe: present when expanded (``expand[]=confirmation_secret`` on the invoice or
  ``expand[]=latest_invoice.confirmation_secret`` on a subscription) [localstripe: 400].
* ``payments`` (includable too): a list of ``invoice_payment`` objects pointing at the
  PaymentIntent.
* ``parent.subscription_details.subscription`` instead of ``invoice.subscription``; no
  ``payment_intent`` / ``charge`` / ``paid`` fields; ``default_tax_rates: []`` (not null);
  ``amount_remaining``, ``billing_reason``, ``number``, ``total_taxes``...
* Line items with ``parent.subscription_item_details`` and ``pricing.price_details``.
* ``invoice.finalized`` on finalisation, ``invoice.paid`` *and* ``invoice.payment_succeeded``
  when paid [localstripe sent only the latter].
* ``attempt_count`` as Stripe counts it: 0 until the first payment attempt, which counts
  whatever started it; after that only automatic attempts (renewals, Smart Retries) count,
  manual ones (``/pay``, a browser confirmation) do not [localstripe: always 1]. ``attempted``
  follows it.
* ``next_payment_attempt``: after a failed *automatic* attempt of an open invoice, the time of the
  next Smart Retry (+3, +5, +7 days after attempts 1, 2, 3; none after the 4th); a manual attempt
  leaves it as it is; null for paid / void invoices and for invoices never attempted
  automatically (a subscription's first invoice) [localstripe: the invoice date].
* ``POST /v1/invoices/{id}/pay`` (``payment_method``, ``off_session`` — true by default, as on
  Stripe —, ``paid_out_of_band``, ``forgive``, ``mandate``): charges ``payment_method`` (a card
  of the invoice's customer, or a test id such as ``pm_card_visa``, attached on the fly when the
  card can be saved), else the subscription's default payment method, else the customer's. A
  decline is Stripe's 402 ``card_error`` (the invoice stays ``open``, its PaymentIntent
  ``requires_payment_method`` with ``last_payment_error``); a card that needs authentication
  (any 3-D Secure card on session, the always-authenticate ones off session) is Stripe's 402
  ``invoice_payment_intent_requires_action`` with the PaymentIntent ``requires_action`` (its
  ``client_secret`` through ``expand[]=confirmation_secret``), ``invoice.payment_action_required``
  — and once the browser authenticates it (``handleNextAction`` / ``confirmCardPayment``) the
  invoice is paid (``invoice.paid``, ``invoice.payment_succeeded``) and a ``past_due``
  subscription is ``active`` again (``customer.subscription.updated`` with
  ``previous_attributes.status``). [localstripe: the customer's default card only, 404 without
  one, no authentication.] ``GET /v1/invoices`` filters on ``status``.
* ``hosted_invoice_url`` and ``invoice_pdf`` on finalised invoices: pages of the stand-in's own
  behind an unguessable token (``hosted.py``) [localstripe: none].
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from localstripe import resources as R

from .. import hosted
from ..errors import StripeError, invalid_request
from . import cards, plan_change
from .events import emit
from .export import unknown_parameter

_orig_finalize = R.Invoice._finalize
_orig_status = R.Invoice.status.fget
_orig_list_all = R.Invoice._api_list_all
_number_counter = {"n": 0}

#: Days from a failed automatic attempt to the next one. Stripe's Smart Retries choose their own
#: times within the configured window (by default up to 8 tries in 2 weeks); a fixed schedule
#: keeps the stand-in predictable: attempts 2, 3 and 4 come 3, 5 and 7 days after the previous.
RETRY_DAYS = (3, 5, 7)
REQUIRES_ACTION_MESSAGE = (
    "This payment requires additional user action before it can be completed successfully. "
    "Payment can be completed using the PaymentIntent associated with the invoice. For more "
    "details see: https://docs.stripe.com/billing/subscriptions/overview#requires-action"
)

LEGACY_INVOICE_FIELDS = (
    "payment_intent",
    "charge",
    "paid",
    "subscription",
    "tax_percent",
    "tax",
    "date",
    "application_fee",
    "discount",
    "closed",
    "forgiven",
    "total_tax_amounts",
)

INVOICE_DEFAULTS: dict[str, Any] = {
    "account_country": "US",
    "account_name": "Open SEC Data (offline)",
    "account_tax_ids": None,
    "amount_overpaid": 0,
    "amount_shipping": 0,
    "application": None,
    "automatic_tax": {
        "disabled_reason": None,
        "enabled": False,
        "liability": None,
        "provider": None,
        "status": None,
    },
    "automatically_finalizes_at": None,
    "custom_fields": None,
    "customer_address": None,
    "customer_name": None,
    "customer_phone": None,
    "customer_shipping": None,
    "customer_tax_exempt": "none",
    "customer_tax_ids": [],
    "default_payment_method": None,
    "default_source": None,
    "discounts": [],
    "due_date": None,
    "footer": None,
    "from_invoice": None,
    "issuer": {"type": "self"},
    "last_finalization_error": None,
    "latest_revision": None,
    "on_behalf_of": None,
    "payment_settings": {
        "default_mandate": None,
        "payment_method_options": None,
        "payment_method_types": None,
    },
    "post_payment_credit_notes_amount": 0,
    "pre_payment_credit_notes_amount": 0,
    "rendering": None,
    "shipping_cost": None,
    "shipping_details": None,
    "test_clock": None,
    "total_discount_amounts": [],
    "total_pretax_credit_amounts": [],
    "total_taxes": [],
}


def _pi(invoice):
    if invoice.payment_intent:
        return R.PaymentIntent._api_retrieve(invoice.payment_intent)
    return None


def confirmation_secret(invoice, _rest=None):
    pi = _pi(invoice)
    if pi is None:
        return None
    return {"client_secret": pi.client_secret, "type": "payment_intent"}


def payments(invoice, rest=None):
    pi = _pi(invoice)
    data = []
    if pi is not None:
        paid = invoice.status == "paid"
        payment = {
            "id": "inpay_" + pi.id[3:],
            "object": "invoice_payment",
            "amount_paid": pi.amount if paid else None,
            "amount_requested": pi.amount,
            "created": pi.created,
            "currency": pi.currency,
            "invoice": invoice.id,
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": pi.id},
            "status": "paid" if paid else ("canceled" if pi.status == "canceled" else "open"),
            "status_transitions": {
                "canceled_at": None,
                "paid_at": invoice.status_transitions.get("paid_at"),
            },
        }
        for sub_path in rest or []:
            if sub_path.startswith("data.payment.payment_intent"):
                payment["payment"]["payment_intent"] = pi._export()
        data.append(payment)
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "url": f"/v1/invoice_payments?invoice={invoice.id}",
    }


def _invoice_shape(self, obj):
    for key in LEGACY_INVOICE_FIELDS:
        obj.pop(key, None)
    for key, value in INVOICE_DEFAULTS.items():
        obj.setdefault(key, value)
    sub = None
    if self.subscription:
        sub = R.store.get("subscription:" + self.subscription)
    obj["parent"] = None
    if self.subscription:
        obj["parent"] = {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(sub.metadata) if sub is not None else {},
                "subscription": self.subscription,
            },
            "type": "subscription_details",
        }
    obj["default_tax_rates"] = obj.get("default_tax_rates") or []
    obj["amount_remaining"] = max(0, self.amount_due - self.amount_paid)
    obj["billing_reason"] = getattr(self, "_fs_billing_reason", None) or (
        "subscription_create" if self.subscription else "manual"
    )
    obj["number"] = getattr(self, "_fs_number", None)
    if self.subscription:
        # Stripe's invoice-level period is the *usage* period: empty (the creation time) for a
        # subscription's first invoice, the period that just ended for a renewal; the period
        # the invoice pays for is on its lines (lines.data[].period).
        usage = getattr(self, "_fs_usage_period", None)
        obj["period_start"], obj["period_end"] = usage or (self.created, self.created)
    obj["created"] = self.created
    obj["effective_at"] = self.status_transitions.get("finalized_at")
    obj["auto_advance"] = self.status in ("draft", "open")
    obj["collection_method"] = "charge_automatically"
    obj["subtotal_excluding_tax"] = self.subtotal
    obj["total_excluding_tax"] = self.subtotal
    obj["attempt_count"] = attempts(self)
    obj["attempted"] = obj["attempt_count"] > 0 or self.status == "paid"
    token = hosted_token(self)
    obj["hosted_invoice_url"] = hosted.invoice_url(token) if token else None
    obj["invoice_pdf"] = hosted.invoice_pdf_url(token) if token else None
    customer = R.store.get("customer:" + self.customer)
    if customer is not None:
        obj["customer_name"] = customer.name
    return obj


def _line_shape(self, obj):
    for key in (
        "plan",
        "price",
        "proration",
        "subscription",
        "subscription_item",
        "type",
        "tax_rates",
        "tax_amounts",
        "invoice_item",
        "discountable_amount",
    ):
        obj.pop(key, None)
    plan = getattr(self, "plan", None)
    proration_parent = plan_change.line_parent(self)
    if proration_parent is not None:  # a proration of a subscription item
        parent = proration_parent
    elif self.type == "subscription":
        if plan is not None and self.description == _plan_name(plan):  # localstripe's default
            obj["description"] = plan_change.subscription_line_description(plan, self.quantity)
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": None,
                "subscription": self.subscription,
                "subscription_item": self.subscription_item,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice": self.invoice,
                "invoice_item": self.invoice_item,
                "proration": self.proration,
                "proration_details": None,
                "subscription": self.subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    obj["parent"] = parent
    obj["pricing"] = {
        "price_details": {"price": plan.id, "product": plan.product} if plan else None,
        "type": "price_details" if plan else None,
        "unit_amount_decimal": str(plan.amount) if plan else None,
    }
    obj["taxes"] = []
    obj["discounts"] = []
    obj["discount_amounts"] = []
    obj["discountable"] = True
    obj["pretax_credit_amounts"] = []
    obj["subtotal"] = self.amount
    return obj


def _plan_name(plan) -> str | None:
    product = R.store.get("product:" + str(plan.product))
    return getattr(product, "name", None)


def status(self):
    if getattr(self, "_fs_paid_out_of_band", False):
        return "paid"
    return _orig_status(self)


def finalize(self):
    _orig_finalize(self)
    _number_counter["n"] += 1
    self._fs_number = f"OFFLINE-{int(time.time()) % 100000:05d}-{_number_counter['n']:04d}"
    # Like Stripe's hosted links: a random token, not the invoice id, so knowing (or guessing)
    # an invoice id does not open its page.
    self._fs_hosted_token = "test_" + secrets.token_urlsafe(32)
    self._fs_attempts = 0
    emit("invoice.finalized", self)


def hosted_token(invoice) -> str | None:
    """The token of the invoice's hosted page and PDF; None while it is a draft."""
    if invoice._draft:
        return None
    token = getattr(invoice, "_fs_hosted_token", None)
    if token is None:  # finalised before the stand-in made tokens (an older state pickle)
        token = invoice._fs_hosted_token = "test_" + secrets.token_urlsafe(32)
    return token


def by_hosted_token(token: str):
    """The finalised invoice whose hosted token is ``token``, else None."""
    for key, value in list(R.store.items()):
        if key.startswith("invoice:") and getattr(value, "_fs_hosted_token", None) == token:
            return value
    return None


def attempts(invoice) -> int:
    count = getattr(invoice, "_fs_attempts", None)
    if count is None:  # an invoice of an older state pickle: was it tried?
        pi = _pi(invoice)
        count = 1 if (pi is not None and pi.latest_charge is not None) else 0
    return count


def note_attempt(self, automatic: bool) -> None:
    """A payment attempt starts: count it as Stripe does, and schedule the next Smart Retry.

    Called before the outcome is known, so the events of a failure carry the new values; once the
    invoice is paid ``next_payment_attempt`` reads null anyway.
    """
    count = attempts(self)
    if automatic or count == 0:
        count += 1
    self._fs_attempts = count
    if automatic:
        self._fs_next_attempt = (
            int(time.time()) + RETRY_DAYS[count - 1] * 86400 if count <= len(RETRY_DAYS) else None
        )


def next_payment_attempt(self):
    if self.status != "open":
        return None
    return getattr(self, "_fs_next_attempt", None)


def on_payment_success(self):
    """Paid: ``invoice.paid`` + ``invoice.payment_succeeded``, then the subscription reacts."""
    assert self.status == "paid"
    self.status_transitions["paid_at"] = int(time.time())
    emit("invoice.paid", self)
    emit("invoice.payment_succeeded", self)
    if self.subscription:
        sub = R.Subscription._api_retrieve(self.subscription)
        sub._on_initial_payment_success(self)


def api_pay_invoice(
    cls,
    id,
    payment_method=None,
    off_session=None,
    paid_out_of_band=None,
    forgive=None,
    mandate=None,
    **kwargs,
):
    """``POST /v1/invoices/{id}/pay``: one manual payment attempt, as Stripe makes it."""
    from .payment_intents import confirm_pi

    unknown_parameter(kwargs)
    off_session = _boolean(off_session, "off_session")
    out_of_band = _boolean(paid_out_of_band, "paid_out_of_band")
    _boolean(forgive, "forgive")  # only meaningful for sources that can be under-funded
    if payment_method is not None and (not isinstance(payment_method, str) or not payment_method):
        raise invalid_request("Invalid string", param="payment_method")
    obj = cls._api_retrieve(id)
    if obj.status == "paid":
        raise invalid_request("Invoice is already paid", code="invoice_already_paid")
    if obj.status not in ("draft", "open"):
        raise invalid_request(
            f"You can only pay an invoice that is open (status: {obj.status}).",
            code="invoice_not_editable",
        )
    pm = _payment_method_for(obj, payment_method) if payment_method else None
    if obj.status == "draft":
        obj._finalize()
    if out_of_band is True:
        pi = _pi(obj)
        if pi is not None and pi.status != "succeeded":
            pi._canceled = True
            pi.next_action = None
        obj._fs_paid_out_of_band = True
        obj._on_payment_success()
        return obj
    if obj.total <= 0:
        obj._on_payment_success()
        return obj
    pi = _pi(obj)
    if pi is None:
        pi = R.PaymentIntent(amount=obj.total, currency=obj.currency, customer=obj.customer)
        pi.invoice = obj.id
        obj.payment_intent = pi.id
    if pm is None:
        pm_id = _default_pm_id(obj)
        if not pm_id:
            raise invalid_request(
                "This customer has no attached payment source or default payment "
                "method. Please consider adding a default payment method."
            )
        pm = R.PaymentMethod._api_retrieve(pm_id)
    pi.payment_method = pm.id
    # ``off_session`` defaults to true on /pay: the customer is not there to authenticate.
    confirm_pi(pi, off_session=off_session is not False)  # a decline raises Stripe's 402
    if pi.status == "requires_action":
        raise StripeError(
            402,
            "invalid_request_error",
            REQUIRES_ACTION_MESSAGE,
            code="invoice_payment_intent_requires_action",
            payment_intent=pi._export(),
        )
    return obj


def api_void_invoice(cls, id, **kwargs):
    """``POST /v1/invoices/{id}/void``: an open invoice becomes ``void`` (``invoice.voided``).

    Its PaymentIntent is canceled; a subscription's first invoice expires the ``incomplete``
    subscription (localstripe's rule), a pending update's invoice discards the update, any
    other subscription is left as it is [localstripe: any subscription became
    ``incomplete_expired``; a crash without a PaymentIntent].
    """
    unknown_parameter(kwargs)
    obj = cls._api_retrieve(id)
    if obj.status not in ("draft", "open"):
        raise invalid_request(
            f"You can only void an open invoice (this invoice is {obj.status}).",
            code="invoice_not_editable",
        )
    pi = _pi(obj)
    if pi is not None and pi.status != "succeeded":
        pi._canceled = True
        pi.next_action = None
    obj._draft = False
    obj._voided = True
    obj.status_transitions["voided_at"] = int(time.time())
    emit("invoice.voided", obj)
    if obj.subscription:
        from .subscriptions import changes

        sub = R.Subscription._api_retrieve(obj.subscription)
        if sub.status == "incomplete":
            sub._on_initial_payment_voided(obj)
        else:
            with changes(sub):
                plan_change.on_invoice_voided(sub, obj)
    return obj


def _boolean(value, param: str) -> bool | None:
    if value is None:
        return None
    converted = R.try_convert_to_bool(value)
    if not isinstance(converted, bool):
        raise invalid_request("Invalid boolean: " + str(value), param=param)
    return converted


def _payment_method_for(invoice, pm_id: str):
    """The card ``/pay`` charges: one of the invoice's customer, or a test id's new card.

    A test id's card is attached to the customer when it can be saved; one that Stripe declines
    when saved (``pm_card_chargeDeclined``...) stays unattached and is declined when charged, so
    the invoice records the failed attempt, as a charge of a new card does on Stripe.
    """
    if pm_id in cards.TEST_PAYMENT_METHODS:
        pm = R.PaymentMethod._api_retrieve(pm_id)
        if not pm._attaching_is_declined():
            cards.attach_to_customer(pm, invoice.customer)
        return pm
    return cards.customer_payment_method(invoice.customer, pm_id, "payment_method")


def _default_pm_id(invoice):
    if invoice.subscription:
        sub = R.store.get("subscription:" + invoice.subscription)
        if sub is not None and getattr(sub, "default_payment_method", None):
            return sub.default_payment_method
    customer = R.Customer._api_retrieve(invoice.customer)
    source = customer._get_default_payment_method_or_source()
    return source.id if source is not None else None


def api_list_all(
    cls,
    url,
    customer=None,
    subscription=None,
    status=None,
    limit=None,
    starting_after=None,
    **kwargs,
):
    unknown_parameter(kwargs)
    li = _orig_list_all.__func__(
        cls,
        url,
        customer=customer,
        subscription=subscription,
        limit=limit,
        starting_after=starting_after,
    )
    if status is not None:
        li._list = [i for i in li._list if i.status == status]
    return li


def apply() -> None:
    inv = R.Invoice
    inv._finalize = finalize
    inv._on_payment_success = on_payment_success
    inv._api_pay_invoice = classmethod(api_pay_invoice)
    inv._api_void_invoice = classmethod(api_void_invoice)
    inv._api_list_all = classmethod(api_list_all)
    inv._fs_note_attempt = note_attempt
    inv.next_payment_attempt = property(next_payment_attempt)
    inv._fs_shape = _invoice_shape
    inv._fs_includable = {"confirmation_secret": confirmation_secret, "payments": payments}
    inv.status = property(status)
    R.InvoiceLineItem._fs_shape = _line_shape
