"""The contract's shapes of Stripe objects (billing.presenters): plain dicts in Stripe's
current shape, and one real invoice of the stand-in read with stripe-python."""

from __future__ import annotations

from billing import presenters
from billing.tests.support import dashboard_subscription, unique_user
from fakestripe.testing import stripe_client as stand_in

INTENT_WAITING = {"id": "pi_1", "status": "requires_action", "client_secret": "pi_1_secret_x"}


def invoice(**fields):
    base = {
        "id": "in_1",
        "object": "invoice",
        "number": "ABC-0001",
        "status": "open",
        "amount_due": 2000,
        "amount_paid": 0,
        "currency": "usd",
        "created": 1_800_000_000,
        # Stripe's own "usage" period of a renewal: the month before the one it bills.
        "period_start": 1_797_000_000,
        "period_end": 1_800_000_000,
        "lines": {"data": [{"period": {"start": 1_800_000_000, "end": 1_802_592_000}}]},
        "hosted_invoice_url": "https://invoice.stripe.com/i/x",
        "invoice_pdf": "https://pay.stripe.com/invoice/x/pdf",
        "payments": {"data": [{"is_default": True, "payment": {"payment_intent": INTENT_WAITING}}]},
    }
    base.update(fields)
    return base


def test_the_invoice_object_bills_the_lines_period_in_iso():
    shaped = presenters.invoice_object(invoice())
    assert shaped == {
        "id": "in_1",
        "number": "ABC-0001",
        "status": "open",
        "amount_due": 2000,
        "amount_paid": 0,
        "currency": "usd",
        "created": "2027-01-15T08:00:00Z",
        "period_start": "2027-01-15T08:00:00Z",
        "period_end": "2027-02-14T08:00:00Z",
        "hosted_invoice_url": "https://invoice.stripe.com/i/x",
        "invoice_pdf": "https://pay.stripe.com/invoice/x/pdf",
        "client_secret": "pi_1_secret_x",
    }


def test_without_lines_the_invoices_own_period_is_used():
    shaped = presenters.invoice_object(invoice(lines={"data": []}))
    assert shaped["period_start"] == "2026-12-11T14:40:00Z"


def test_the_secret_is_given_only_while_an_open_invoice_waits_for_3d_secure():
    assert presenters.invoice_client_secret(invoice()) == "pi_1_secret_x"
    assert presenters.invoice_client_secret(invoice(status="paid")) is None
    failed = {"id": "pi_1", "status": "requires_payment_method", "client_secret": "pi_1_secret_x"}
    payments = {"data": [{"payment": {"payment_intent": failed}}]}
    assert presenters.invoice_client_secret(invoice(payments=payments)) is None
    # Not expanded (an id only): nothing to tell, so nothing given.
    unexpanded = {"data": [{"payment": {"payment_intent": "pi_1"}}]}
    assert presenters.invoice_client_secret(invoice(payments=unexpanded)) is None


def test_the_default_payment_is_read_first_and_the_older_shape_too():
    other = {"id": "pi_0", "status": "canceled"}
    payments = {
        "data": [
            {"is_default": False, "payment": {"payment_intent": other}},
            {"is_default": True, "payment": {"payment_intent": INTENT_WAITING}},
        ]
    }
    assert presenters.invoice_intent(invoice(payments=payments)) == INTENT_WAITING
    older = invoice(payments=None, payment_intent=INTENT_WAITING)
    assert presenters.invoice_intent(older) == INTENT_WAITING


def test_the_card_object():
    method = {
        "id": "pm_1",
        "type": "card",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2031},
    }
    assert presenters.card_object(method) == {
        "id": "pm_1", "brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2031,
    }  # fmt: skip
    assert presenters.card_object(None) is None
    assert presenters.card_object("pm_1") is None  # an id alone says nothing of the card
    sepa = presenters.card_object({"id": "pm_2", "type": "sepa_debit"})
    assert sepa == {"id": "pm_2", "brand": "sepa_debit", "last4": None,
                    "exp_month": None, "exp_year": None}  # fmt: skip


def test_a_real_invoice_of_the_stand_in(stripe_ready, make_user):
    sub = dashboard_subscription(stripe_ready, unique_user(make_user))
    real = stand_in(stripe_ready).v1.invoices.retrieve(
        sub.latest_invoice, params={"expand": ["payments.data.payment.payment_intent"]}
    )
    shaped = presenters.invoice_object(real)
    assert shaped["id"] == real.id and shaped["status"] == "paid"
    assert shaped["amount_paid"] == 2000 and shaped["currency"] == "usd"
    assert shaped["number"] == real.number
    assert shaped["period_start"] < shaped["period_end"]
    assert shaped["client_secret"] is None
    assert presenters.invoice_intent(real)["status"] == "succeeded"
