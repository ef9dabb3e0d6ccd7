"""The contract's JSON shapes of Stripe objects: the invoice object and the card.

docs/api.md ("Billing self-service") defines them; the views answer with them and nothing
else of Stripe's objects leaves the server. Pure: reads objects of either kind
(stripe-python's or plain dicts, :mod:`billing.stripe_objects`), calls nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .stripe_objects import field, iso, timestamp

#: PaymentIntent states in which the browser must finish the payment (3-D Secure).
NEEDS_BROWSER = frozenset({"requires_action"})


def invoice_intent(invoice: Any) -> Mapping[str, Any] | None:
    """The invoice's PaymentIntent, if it was expanded; None otherwise.

    Current API: ``payments.data[].payment.payment_intent`` (the default payment first);
    older API versions: ``payment_intent`` on the invoice.
    """
    payments = field(field(invoice, "payments"), "data") or []
    ordered = sorted(payments, key=lambda p: not field(p, "is_default"))
    for payment in ordered:
        intent = field(field(payment, "payment"), "payment_intent")
        if intent is not None and not isinstance(intent, str):
            return intent
    legacy = field(invoice, "payment_intent")
    return legacy if legacy is not None and not isinstance(legacy, str) else None


def invoice_client_secret(invoice: Any) -> str | None:
    """The PaymentIntent's secret while an open invoice waits for 3-D Secure; else None.

    Only then does the browser need it (``stripe.handleNextAction``); a paid or failed
    payment has nothing to confirm.
    """
    if field(invoice, "status") != "open":
        return None
    intent = invoice_intent(invoice)
    if intent is None or field(intent, "status") not in NEEDS_BROWSER:
        return None
    secret = field(intent, "client_secret")
    return str(secret) if secret else None


def _service_period(invoice: Any) -> tuple[Any, Any]:
    """The period the invoice bills: its subscription line's (Stripe's invoice-level
    ``period_start``/``period_end`` describe when items were collected, which for a renewal
    is the period before), else the invoice's own."""
    for line in field(field(invoice, "lines"), "data") or []:
        period = field(line, "period")
        if period is not None and field(period, "start") and field(period, "end"):
            return field(period, "start"), field(period, "end")
    return field(invoice, "period_start"), field(invoice, "period_end")


def invoice_object(invoice: Any) -> dict[str, Any]:
    """The contract's invoice object (amounts in the smallest currency unit, times ISO-8601)."""
    start, end = _service_period(invoice)
    return {
        "id": str(field(invoice, "id") or ""),
        "number": field(invoice, "number"),
        "status": field(invoice, "status"),
        "amount_due": int(field(invoice, "amount_due") or 0),
        "amount_paid": int(field(invoice, "amount_paid") or 0),
        "currency": str(field(invoice, "currency") or ""),
        "created": iso(timestamp(field(invoice, "created"))),
        "period_start": iso(timestamp(start)),
        "period_end": iso(timestamp(end)),
        "hosted_invoice_url": field(invoice, "hosted_invoice_url"),
        "invoice_pdf": field(invoice, "invoice_pdf"),
        "client_secret": invoice_client_secret(invoice),
    }


def card_object(payment_method: Any) -> dict[str, Any] | None:
    """``{id, brand, last4, exp_month, exp_year}`` of a payment method (None if none).

    A method that is not a card (none is offered today) keeps its id and type as ``brand``.
    """
    if payment_method is None or isinstance(payment_method, str):
        return None
    card = field(payment_method, "card")
    return {
        "id": str(field(payment_method, "id") or ""),
        "brand": field(card, "brand") if card is not None else field(payment_method, "type"),
        "last4": field(card, "last4"),
        "exp_month": field(card, "exp_month"),
        "exp_year": field(card, "exp_year"),
    }
