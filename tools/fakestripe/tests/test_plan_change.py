"""Price changes of a subscription (``POST /v1/subscriptions/{id}`` with ``items[0][id|price]``):
prorations, the billing cycle reset of an interval change, payment behaviours and Stripe's
pending updates — driven with stripe-python against the running stand-in, the webhooks it sends
received and signature-checked by a local endpoint."""

from __future__ import annotations

import time
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
import stripe

from fakestripe.launcher import FakeStripeError
from fakestripe.testing import WebhookReceiver, premium_prices

SECRET = "whsec_plan_change"
MONTHLY, YEARLY = 2000, 20000


@pytest.fixture(scope="module")
def hooks(fake):
    receiver = WebhookReceiver(SECRET)
    fake.register_webhook(receiver.url, SECRET, name="plan_change")
    yield receiver
    fake.unregister_webhook("plan_change")
    receiver.close()


@pytest.fixture(scope="module")
def plans(client):
    """Premium's monthly and yearly prices (and a second monthly one)."""
    return premium_prices(
        client,
        "plan_change",
        {
            "monthly": (MONTHLY, "month"),
            "yearly": (YEARLY, "year"),
            "monthly_plus": (3000, "month"),
        },
    )


def subscribe(fake, client, price, card="pm_card_visa"):
    """A paid subscription to ``price`` whose default card is ``card`` (3-D Secure answered)."""
    cus = client.v1.customers.create(
        params={"email": f"p{uuid.uuid4().hex[:10]}@example.com", "name": "Plan Change"}
    )
    pm = client.v1.payment_methods.attach(card, {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "default_payment_method": pm.id,
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    if sub.status == "incomplete":
        secret = sub.latest_invoice.confirmation_secret.client_secret
        fake.authenticate(secret.split("_secret_")[0], secret)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    return sub


def set_default_card(client, sub, card):
    pm = client.v1.payment_methods.attach(card, {"customer": sub.customer})
    client.v1.subscriptions.update(sub.id, {"default_payment_method": pm.id})


def change(client, sub, price, **params):
    """The update (its latest invoice expanded with its PaymentIntent: Stripe expands at most 4
    levels, so the invoice is read again for that)."""
    changed = client.v1.subscriptions.update(
        sub.id,
        {
            "items": [{"id": sub["items"].data[0].id, "price": price.id}],
            "expand": ["latest_invoice"],
            **params,
        },
    )
    changed["latest_invoice"] = client.v1.invoices.retrieve(
        changed.latest_invoice.id,
        {"expand": ["confirmation_secret", "payments.data.payment.payment_intent"]},
    )
    return changed


def unused(amount, period, when):
    """Stripe's proration: the part of ``amount`` for the time after ``when``."""
    start, end = period
    value = Decimal(amount * (end - when)) / Decimal(end - start)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def period_of(sub):
    item = sub["items"].data[0]
    return item.current_period_start, item.current_period_end


def about(event_type, object_id):
    return lambda e: e.type == event_type and e.data.object.id == object_id


def intent_of(invoice):
    return invoice.payments.data[0].payment.payment_intent


def invoices_of(client, sub):
    return client.v1.invoices.list({"subscription": sub.id, "limit": 100}).data


# -- month -> year: the billing cycle restarts now ---------------------------------------------


def test_monthly_to_yearly_charges_the_year_minus_the_unused_month(fake, client, plans, hooks):
    sub = subscribe(fake, client, plans["monthly"])
    period = period_of(sub)
    when = period[0] + (period[1] - period[0]) // 3  # a third of the month used
    item_id = sub["items"].data[0].id
    before = time.time()

    changed = change(
        client,
        sub,
        plans["yearly"],
        proration_behavior="always_invoice",
        proration_date=when,
        payment_behavior="pending_if_incomplete",
    )

    credit = unused(MONTHLY, period, when)
    assert 0 < credit < MONTHLY
    item = changed["items"].data[0]
    assert item.id == item_id and item.price.id == plans["yearly"].id  # the same item
    assert before - 2 <= item.current_period_start <= time.time() + 2  # the cycle restarts now
    end = item.current_period_start + 365 * 86400
    assert end <= item.current_period_end <= end + 86400
    assert changed.billing_cycle_anchor == item.current_period_start
    assert changed.pending_update is None and changed.status == "active"
    invoice = changed.latest_invoice
    assert invoice.status == "paid" and invoice.billing_reason == "subscription_update"
    assert invoice.amount_paid == invoice.amount_due == YEARLY - credit
    assert intent_of(invoice).status == "succeeded"
    lines = {line.amount: line for line in invoice.lines.data}
    assert sorted(lines) == [-credit, YEARLY]
    credit_line, year_line = lines[-credit], lines[YEARLY]
    details = credit_line.parent.subscription_item_details
    assert credit_line.parent.type == "subscription_item_details"
    assert details.proration is True and details.subscription_item == item_id
    assert details.invoice_item.startswith("ii_") and details.subscription == sub.id
    assert details.proration_details.credited_items.invoice == sub.latest_invoice
    assert credit_line.description.startswith("Unused time on Premium after ")
    assert (credit_line.period.start, credit_line.period.end) == (when, period[1])
    assert credit_line.pricing.price_details.price == plans["monthly"].id
    assert year_line.parent.subscription_item_details.proration is False
    assert year_line.description == "1 \u00d7 Premium (at $200.00 / year)"
    assert year_line.pricing.price_details.price == plans["yearly"].id
    assert year_line.period.start == item.current_period_start
    assert year_line.period.end == item.current_period_end

    updated = hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and "items" in e.data.to_dict().get("previous_attributes", {})
        )
    )[0]
    old_items = updated.data.to_dict()["previous_attributes"]["items"]["data"]
    assert old_items[0]["price"]["id"] == plans["monthly"].id
    for kind in ("created", "finalized", "paid", "payment_succeeded"):
        hooks.wait_for(about(f"invoice.{kind}", invoice.id))


def test_the_change_without_proration_date_is_prorated_now(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    period = period_of(sub)
    before = int(time.time())

    changed = change(client, sub, plans["yearly"], proration_behavior="always_invoice")

    after = int(time.time())
    # subscribed seconds ago: (almost) the whole month is unused
    charged = changed.latest_invoice.amount_paid
    assert YEARLY - unused(MONTHLY, period, before) <= charged
    assert charged <= YEARLY - unused(MONTHLY, period, after)


def test_no_proration_charges_the_new_price_in_full(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])

    changed = change(client, sub, plans["yearly"], proration_behavior="none")

    # another interval still bills at once (the cycle restarts), without a credit
    assert changed.latest_invoice.amount_paid == YEARLY
    assert [line.amount for line in changed.latest_invoice.lines.data] == [YEARLY]


# -- payment failures --------------------------------------------------------------------------


def test_a_declined_pending_update_changes_nothing_until_voided(fake, client, plans, hooks):
    sub = subscribe(fake, client, plans["monthly"])
    set_default_card(client, sub, "pm_card_chargeCustomerFail")  # attaches, declines charges
    period = period_of(sub)
    invoices_before = len(invoices_of(client, sub))

    held = change(
        client,
        sub,
        plans["yearly"],
        proration_behavior="always_invoice",
        payment_behavior="pending_if_incomplete",
    )

    # Stripe answers 200: the update waits in pending_update until its invoice is paid.
    assert held.status == "active"
    assert held["items"].data[0].price.id == plans["monthly"].id
    assert period_of(held) == period
    pending = held.pending_update
    assert pending.subscription_items[0].price.id == plans["yearly"].id
    assert pending.subscription_items[0].id == sub["items"].data[0].id
    assert time.time() + 22 * 3600 < pending.expires_at <= time.time() + 23 * 3600 + 5
    assert pending.billing_cycle_anchor is not None
    invoice = held.latest_invoice
    assert invoice.status == "open" and invoice.amount_paid == 0
    intent = intent_of(invoice)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    assert intent.last_payment_error.message == "Your card was declined."
    hooks.wait_for(about("invoice.payment_failed", invoice.id))
    hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and e.data.object.pending_update is not None
        )
    )

    voided = client.v1.invoices.void_invoice(invoice.id)

    assert voided.status == "void"
    now = client.v1.subscriptions.retrieve(sub.id)
    assert now.pending_update is None and now.status == "active"
    assert now["items"].data[0].price.id == plans["monthly"].id and period_of(now) == period
    assert len(invoices_of(client, sub)) == invoices_before + 1  # the void one
    hooks.wait_for(about("invoice.voided", invoice.id))
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(invoice.id)  # already void


def test_a_pending_update_needing_3ds_applies_once_authenticated(fake, client, plans, hooks):
    sub = subscribe(fake, client, plans["monthly"], card="pm_card_authenticationRequired")
    item_id = sub["items"].data[0].id

    held = change(
        client,
        sub,
        plans["yearly"],
        proration_behavior="always_invoice",
        payment_behavior="pending_if_incomplete",
    )

    assert held["items"].data[0].price.id == plans["monthly"].id
    assert held.pending_update is not None
    invoice = client.v1.invoices.retrieve(
        held.latest_invoice.id,
        {"expand": ["confirmation_secret", "payments.data.payment.payment_intent"]},
    )
    assert invoice.status == "open"
    intent = intent_of(invoice)
    assert intent.status == "requires_action"
    hooks.wait_for(about("invoice.payment_action_required", invoice.id))

    # the browser's handleNextAction on the invoice's confirmation secret
    fake.authenticate(intent.id, invoice.confirmation_secret.client_secret)

    now = client.v1.subscriptions.retrieve(sub.id)
    assert now.pending_update is None and now.status == "active"
    assert now["items"].data[0].id == item_id
    assert now["items"].data[0].price.id == plans["yearly"].id
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    hooks.wait_for(about("customer.subscription.pending_update_applied", sub.id))
    hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and "items" in e.data.to_dict().get("previous_attributes", {})
            and e.data.object.pending_update is None
        )
    )


def test_error_if_incomplete_refuses_a_declining_card_and_changes_nothing(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    set_default_card(client, sub, "pm_card_chargeCustomerFail")
    count = len(invoices_of(client, sub))

    with pytest.raises(stripe.CardError) as declined:
        change(
            client,
            sub,
            plans["yearly"],
            proration_behavior="always_invoice",
            payment_behavior="error_if_incomplete",
        )

    assert declined.value.http_status == 402 and declined.value.code == "card_declined"
    now = client.v1.subscriptions.retrieve(sub.id)
    assert now["items"].data[0].price.id == plans["monthly"].id
    assert len(invoices_of(client, sub)) == count


def test_allow_incomplete_applies_the_change_and_leaves_it_past_due(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    set_default_card(client, sub, "pm_card_chargeCustomerFail")

    changed = change(client, sub, plans["yearly"], proration_behavior="always_invoice")

    assert changed["items"].data[0].price.id == plans["yearly"].id
    assert changed.status == "past_due" and changed.pending_update is None
    assert changed.latest_invoice.status == "open"


# -- same interval: the period stays -----------------------------------------------------------


def test_always_invoice_within_the_interval_bills_only_the_prorations(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    period = period_of(sub)
    when = period[0] + (period[1] - period[0]) // 2

    changed = change(
        client, sub, plans["monthly_plus"], proration_behavior="always_invoice", proration_date=when
    )

    assert period_of(changed) == period  # same interval: the cycle goes on
    lines = sorted(line.amount for line in changed.latest_invoice.lines.data)
    assert lines == [-unused(MONTHLY, period, when), unused(3000, period, when)]
    assert all(
        line.parent.subscription_item_details.proration for line in changed.latest_invoice.lines
    )
    assert changed.latest_invoice.amount_paid == sum(lines)
    remaining = next(line for line in changed.latest_invoice.lines.data if line.amount > 0)
    assert remaining.description.startswith("Remaining time on Premium after ")


def test_create_prorations_leaves_them_for_the_renewal(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    period = period_of(sub)
    when = period[0] + (period[1] - period[0]) // 4
    count = len(invoices_of(client, sub))

    changed = change(
        client,
        sub,
        plans["monthly_plus"],
        proration_behavior="create_prorations",
        proration_date=when,
    )

    assert changed["items"].data[0].price.id == plans["monthly_plus"].id
    assert len(invoices_of(client, sub)) == count  # nothing invoiced now
    renewed = fake.renew(sub.id)
    invoice = client.v1.invoices.retrieve(renewed["latest_invoice"]["id"])
    expected = 3000 - unused(MONTHLY, period, when) + unused(3000, period, when)
    assert invoice.amount_paid == expected
    assert (
        sum(1 for line in invoice.lines.data if line.parent.subscription_item_details.proration)
        == 2
    )


def test_no_proration_within_the_interval_bills_the_new_price_at_renewal(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    count = len(invoices_of(client, sub))

    change(client, sub, plans["monthly_plus"], proration_behavior="none")

    assert len(invoices_of(client, sub)) == count
    renewed = fake.renew(sub.id)
    assert client.v1.invoices.retrieve(renewed["latest_invoice"]["id"]).amount_paid == 3000


# -- refusals ----------------------------------------------------------------------------------


def test_refusals(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    bad = [
        ({"items": [{"id": "si_nope", "price": plans["yearly"].id}]}, "items[0][id]"),
        ({"items": [{"id": sub["items"].data[0].id, "price": "price_nope"}]}, "items[0][price]"),
        (
            {
                "items": [{"id": sub["items"].data[0].id, "price": plans["yearly"].id}],
                "proration_behavior": "sometimes",
            },
            "proration_behavior",
        ),
        (
            {
                "items": [{"id": sub["items"].data[0].id, "price": plans["yearly"].id}],
                "payment_behavior": "whenever",
            },
            "payment_behavior",
        ),
    ]
    for params, param in bad:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.update(sub.id, params)
        assert refused.value.param == param, params
        assert refused.value.user_message
    now = client.v1.subscriptions.retrieve(sub.id)
    assert now["items"].data[0].price.id == plans["monthly"].id


def test_a_failed_authentication_keeps_the_update_pending_until_another_card_pays(
    fake, client, plans
):
    sub = subscribe(fake, client, plans["monthly"], card="pm_card_authenticationRequired")
    held = change(
        client,
        sub,
        plans["yearly"],
        proration_behavior="always_invoice",
        payment_behavior="pending_if_incomplete",
    )
    invoice = held.latest_invoice
    intent = intent_of(invoice)

    fake.authenticate(intent.id, invoice.confirmation_secret.client_secret, success=False)

    still = client.v1.subscriptions.retrieve(sub.id)
    assert still.status == "active" and still.pending_update is not None
    assert still["items"].data[0].price.id == plans["monthly"].id
    assert client.v1.invoices.retrieve(invoice.id).status == "open"

    paid = client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa"})

    assert paid.status == "paid" and paid.amount_paid == invoice.amount_due
    now = client.v1.subscriptions.retrieve(sub.id)
    assert now.pending_update is None and now["items"].data[0].price.id == plans["yearly"].id


# -- the clock: a subscription bought a while ago ---------------------------------------------


def test_backdate_moves_the_period_back_so_a_change_credits_only_the_unused_part(
    fake, client, plans
):
    sub = subscribe(fake, client, plans["monthly"])
    start, end = period_of(sub)
    fake.backdate(sub.id, 10 * 86400)
    moved = client.v1.subscriptions.retrieve(sub.id)
    assert period_of(moved) == (start - 10 * 86400, end - 10 * 86400)
    when = int(time.time())
    preview = client.v1.invoices.create_preview(
        params={
            "customer": sub.customer,
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub["items"].data[0].id, "price": plans["yearly"].id}],
                "proration_behavior": "always_invoice",
                "proration_date": when,
            },
        }
    )
    credit = unused(MONTHLY, period_of(moved), when)
    assert MONTHLY // 2 < credit < MONTHLY * 9 // 10  # about two thirds of the month unused
    assert preview.amount_due == YEARLY - credit


def test_backdate_refuses_a_period_that_would_have_ended(fake, client, plans):
    sub = subscribe(fake, client, plans["monthly"])
    with pytest.raises(FakeStripeError, match="use renew instead"):
        fake.backdate(sub.id, 40 * 86400)
    assert period_of(client.v1.subscriptions.retrieve(sub.id)) == period_of(sub)
