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
* ``POST /v1/invoices/{id}/pay`` charges the subscription's (or customer's) default payment
  method; ``GET /v1/invoices`` filters on ``status``.
"""

from __future__ import annotations

import time
from typing import Any

from localstripe import resources as R

from ..errors import invalid_request
from .events import emit
from .export import unknown_parameter

_orig_finalize = R.Invoice._finalize
_orig_status = R.Invoice.status.fget
_orig_list_all = R.Invoice._api_list_all
_number_counter = {"n": 0}

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
    obj["created"] = self.created
    obj["effective_at"] = self.status_transitions.get("finalized_at")
    obj["auto_advance"] = self.status in ("draft", "open")
    obj["collection_method"] = "charge_automatically"
    obj["subtotal_excluding_tax"] = self.subtotal
    obj["total_excluding_tax"] = self.subtotal
    obj["attempted"] = bool(self.payment_intent and _pi(self).latest_charge is not None) or (
        self.status == "paid"
    )
    obj["hosted_invoice_url"] = None
    obj["invoice_pdf"] = None
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
    if self.type == "subscription":
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


def status(self):
    if getattr(self, "_fs_paid_out_of_band", False):
        return "paid"
    return _orig_status(self)


def finalize(self):
    _orig_finalize(self)
    _number_counter["n"] += 1
    self._fs_number = f"OFFLINE-{int(time.time()) % 100000:05d}-{_number_counter['n']:04d}"
    emit("invoice.finalized", self)


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
    cls, id, payment_method=None, off_session=None, paid_out_of_band=None, **kwargs
):
    from .payment_intents import confirm_pi

    unknown_parameter(kwargs)
    obj = cls._api_retrieve(id)
    if obj.status == "paid":
        raise invalid_request("Invoice is already paid", code="invoice_already_paid")
    if obj.status not in ("draft", "open"):
        raise invalid_request(
            f"You can only pay an invoice that is open (status: {obj.status}).",
            code="invoice_not_editable",
        )
    if obj.status == "draft":
        obj._finalize()
    if R.try_convert_to_bool(paid_out_of_band) is True:
        pi = _pi(obj)
        if pi is not None and pi.status != "succeeded":
            pi._canceled = True
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
    pm_id = payment_method or pi.payment_method or _default_pm_id(obj)
    if not pm_id:
        raise invalid_request(
            "This customer has no attached payment source or default payment "
            "method. Please consider adding a default payment method."
        )
    pi.payment_method = R.PaymentMethod._api_retrieve(pm_id).id
    confirm_pi(pi, off_session=bool(R.try_convert_to_bool(off_session)))
    return obj


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
    inv._api_list_all = classmethod(api_list_all)
    inv._fs_shape = _invoice_shape
    inv._fs_includable = {"confirmation_secret": confirmation_secret, "payments": payments}
    inv.status = property(status)
    R.InvoiceLineItem._fs_shape = _line_shape
