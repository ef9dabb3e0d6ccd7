"""After the purchase: paying an open invoice, renewals that fail or need 3-D Secure, Smart
Retries, a new default card — driven with stripe-python against the running stand-in, with the
webhooks it sends received and signature-checked by a local endpoint."""

from __future__ import annotations

import time
import uuid

import pytest
import stripe

from fakestripe.launcher import FakeStripeError
from fakestripe.testing import WebhookReceiver

DAY = 86400
SECRET = "whsec_after_purchase"
REQUIRES_ACTION = "invoice_payment_intent_requires_action"


@pytest.fixture(scope="module")
def hooks(fake):
    receiver = WebhookReceiver(SECRET)
    fake.register_webhook(receiver.url, SECRET, name="after_purchase")
    yield receiver
    fake.unregister_webhook("after_purchase")
    receiver.close()


def customer(client):
    return client.v1.customers.create(
        params={"email": f"a{uuid.uuid4().hex[:10]}@example.com", "name": "After Purchase"}
    )


def active_subscription(fake, client, price, card="pm_card_visa"):
    """A paid subscription whose default card is ``card`` (3-D Secure answered if asked)."""
    cus = customer(client)
    pm = client.v1.payment_methods.attach(card, {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "default_payment_method": pm.id,
            "payment_behavior": "allow_incomplete",
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    if sub.status == "incomplete":  # the first payment asked for 3-D Secure
        secret = sub.latest_invoice.confirmation_secret.client_secret
        fake.authenticate(secret.split("_secret_")[0], secret)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    return sub, pm


def with_default_card(client, sub, card):
    """Make ``card`` (a test id) the subscription's default card; its PaymentMethod."""
    pm = client.v1.payment_methods.attach(card, {"customer": sub.customer})
    client.v1.subscriptions.update(sub.id, {"default_payment_method": pm.id})
    return pm


def invoice_of(client, invoice_id):
    return client.v1.invoices.retrieve(
        invoice_id, {"expand": ["confirmation_secret", "payments.data.payment.payment_intent"]}
    )


def intent_of(invoice):
    return invoice.payments.data[0].payment.payment_intent


def about(event_type, object_id):
    return lambda e: e.type == event_type and e.data.object.id == object_id


def assert_retry_in(invoice, days, since):
    assert since + days * DAY - 5 <= invoice.next_payment_attempt <= time.time() + days * DAY + 5


# -- POST /v1/invoices/{id}/pay ----------------------------------------------------------------


def test_failed_renewal_leaves_an_open_invoice_that_a_new_card_pays(fake, client, price, hooks):
    sub, _ = active_subscription(fake, client, price)
    started = time.time()
    renewed = fake.fail_renewal(sub.id)
    assert renewed["status"] == "past_due"
    invoice = invoice_of(client, renewed["latest_invoice"]["id"])
    assert invoice.status == "open" and invoice.billing_reason == "subscription_cycle"
    assert invoice.attempt_count == 1 and invoice.attempted is True
    assert_retry_in(invoice, 3, started)
    assert intent_of(invoice).status == "requires_payment_method"
    assert intent_of(invoice).last_payment_error.code == "card_declined"
    failed = hooks.wait_for(about("invoice.payment_failed", invoice.id))[0]
    assert failed.data.object.attempt_count == 1  # the event carries the new values
    assert failed.data.object.next_payment_attempt == invoice.next_payment_attempt

    paid = client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_mastercard"})

    assert paid.status == "paid" and paid.amount_paid == paid.amount_due == price.unit_amount
    assert paid.amount_remaining == 0 and paid.next_payment_attempt is None
    assert paid.attempt_count == 1  # a manual attempt after the first does not count
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    card = client.v1.payment_methods.retrieve(intent_of(invoice_of(client, paid.id)).payment_method)
    assert card.card.last4 == "4444" and card.customer == sub.customer  # attached on the fly
    hooks.wait_for(about("invoice.paid", invoice.id))
    hooks.wait_for(about("invoice.payment_succeeded", invoice.id))
    reactivated = hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and e.data.object.status == "active"
            and e.data.to_dict().get("previous_attributes", {}).get("status") == "past_due"
        )
    )
    assert reactivated


def test_a_declined_payment_changes_nothing_but_the_attempt(fake, client, price, hooks):
    sub, visa = active_subscription(fake, client, price)
    invoice_id = fake.fail_renewal(sub.id)["latest_invoice"]["id"]
    before = invoice_of(client, invoice_id)
    failing = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", {"customer": sub.customer}
    )

    with pytest.raises(stripe.CardError) as declined:
        client.v1.invoices.pay(invoice_id, {"payment_method": failing.id})

    assert declined.value.http_status == 402 and declined.value.code == "card_declined"
    assert declined.value.error.decline_code == "generic_decline"
    assert declined.value.user_message == "Your card was declined."
    assert declined.value.error.payment_intent.status == "requires_payment_method"
    after = invoice_of(client, invoice_id)
    assert after.status == "open" and after.amount_paid == 0
    assert after.attempt_count == before.attempt_count == 1
    assert after.next_payment_attempt == before.next_payment_attempt
    assert intent_of(after).last_payment_error.payment_method.id == failing.id
    now = client.v1.subscriptions.retrieve(sub.id)
    assert now.status == "past_due" and now.default_payment_method == visa.id
    hooks.wait_for(
        lambda e: (
            about("invoice.payment_failed", invoice_id)(e)
            and e["request"]["id"] == declined.value.request_id
        )
    )

    # A test card Stripe refuses to save is declined when charged, and stays off the customer.
    with pytest.raises(stripe.CardError) as declined:
        client.v1.invoices.pay(invoice_id, {"payment_method": "pm_card_chargeDeclined"})
    assert declined.value.code == "card_declined"
    cards = client.v1.payment_methods.list({"customer": sub.customer, "type": "card"}).data
    assert sorted(c.id for c in cards) == sorted([visa.id, failing.id])
    assert client.v1.invoices.retrieve(invoice_id).status == "open"


def test_a_payment_needing_authentication_is_finished_by_the_customer(fake, client, price, hooks):
    sub, _ = active_subscription(fake, client, price)
    invoice_id = fake.fail_renewal(sub.id)["latest_invoice"]["id"]

    with pytest.raises(stripe.CardError) as needs_action:
        client.v1.invoices.pay(invoice_id, {"payment_method": "pm_card_authenticationRequired"})

    assert needs_action.value.http_status == 402
    assert needs_action.value.code == REQUIRES_ACTION
    assert "requires additional user action" in needs_action.value.user_message
    assert needs_action.value.error.payment_intent.status == "requires_action"
    invoice = invoice_of(client, invoice_id)
    assert invoice.status == "open"
    intent = intent_of(invoice)
    assert intent.status == "requires_action" and intent.next_action.type == "use_stripe_sdk"
    assert invoice.confirmation_secret.client_secret == intent.client_secret
    hooks.wait_for(about("invoice.payment_action_required", invoice_id))
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"

    # What the browser's handleNextAction does once the customer completes 3-D Secure.
    done = fake.authenticate(intent.id, invoice.confirmation_secret.client_secret)

    assert done["status"] == "succeeded"
    assert client.v1.invoices.retrieve(invoice_id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    hooks.wait_for(about("invoice.paid", invoice_id))
    hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and e.data.to_dict().get("previous_attributes", {}).get("status") == "past_due"
        )
    )


def test_pay_is_off_session_unless_told_otherwise(fake, client, price):
    """4000002500003155 asks for 3-D Secure on session only (it is fine off session)."""
    sub, _ = active_subscription(fake, client, price)
    first = fake.fail_renewal(sub.id)["latest_invoice"]["id"]
    with pytest.raises(stripe.CardError) as needs_action:
        client.v1.invoices.pay(
            first,
            {"payment_method": "pm_card_authenticationRequiredOnSetup", "off_session": False},
        )
    assert needs_action.value.code == REQUIRES_ACTION
    paid = client.v1.invoices.pay(
        first, {"payment_method": "pm_card_authenticationRequiredOnSetup"}
    )
    assert paid.status == "paid"


def test_pay_without_a_card_uses_the_default_and_refuses_what_stripe_refuses(fake, client, price):
    sub, visa = active_subscription(fake, client, price)
    invoice_id = fake.fail_renewal(sub.id)["latest_invoice"]["id"]
    other = customer(client)
    foreign = client.v1.payment_methods.attach("pm_card_visa", {"customer": other.id})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.pay(invoice_id, {"payment_method": foreign.id})
    assert refused.value.http_status == 400 and refused.value.param == "payment_method"
    with pytest.raises(stripe.InvalidRequestError, match="Received unknown parameter: amount"):
        client.v1.invoices.pay(invoice_id, {"amount": 1})
    with pytest.raises(stripe.InvalidRequestError, match="Invalid boolean"):
        client.v1.invoices.pay(invoice_id, {"off_session": "maybe"})
    assert client.v1.invoices.retrieve(invoice_id).status == "open"

    paid = client.v1.invoices.pay(invoice_id)  # the subscription's default card (a good one)
    assert paid.status == "paid"
    assert intent_of(invoice_of(client, invoice_id)).payment_method == visa.id
    with pytest.raises(stripe.InvalidRequestError, match="already paid"):
        client.v1.invoices.pay(invoice_id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.invoices.pay("in_doesnotexist")
    assert missing.value.http_status == 404


# -- renewals ----------------------------------------------------------------------------------


def test_a_renewal_needing_authentication_is_past_due_with_both_events(fake, client, price, hooks):
    """Off session, an always-authenticate card cannot be charged: Stripe sends
    invoice.payment_failed and invoice.payment_action_required, the PaymentIntent waits in
    requires_action, the subscription is past_due until the customer confirms."""
    sub, card = active_subscription(fake, client, price, card="pm_card_authenticationRequired")
    started = time.time()

    renewed = fake.renew(sub.id)

    assert renewed["status"] == "past_due"
    invoice = invoice_of(client, renewed["latest_invoice"]["id"])
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert_retry_in(invoice, 3, started)
    intent = intent_of(invoice)
    assert intent.status == "requires_action" and intent.payment_method == card.id
    failed = hooks.wait_for(about("invoice.payment_failed", invoice.id))
    action = hooks.wait_for(about("invoice.payment_action_required", invoice.id))
    assert failed[0].data.object.status == action[0].data.object.status == "open"
    hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and e.data.object.status == "past_due"
            and e.data.object.latest_invoice == invoice.id
        )
    )

    with pytest.raises(stripe.CardError) as again:  # "Pay now" with the same card
        client.v1.invoices.pay(invoice.id)
    assert again.value.code == REQUIRES_ACTION
    listed = client.v1.events.list({"type": "invoice.payment_action_required", "limit": 100})
    assert [e.data.object.id for e in listed.data].count(invoice.id) == 1  # the same challenge
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 1

    fake.authenticate(intent.id, invoice.confirmation_secret.client_secret)

    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_smart_retries_count_attempts_and_move_the_next_one(fake, client, price, hooks):
    sub, _ = active_subscription(fake, client, price)
    with_default_card(client, sub, "pm_card_chargeCustomerFail")  # declined when charged
    started = time.time()
    invoice_id = fake.renew(sub.id)["latest_invoice"]["id"]
    invoice = client.v1.invoices.retrieve(invoice_id)
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert_retry_in(invoice, 3, started)
    for attempt, days in ((2, 5), (3, 7)):
        started = time.time()
        retried = fake.retry_invoice(invoice_id)
        assert retried["attempt_count"] == attempt and retried["status"] == "open"
        assert_retry_in(client.v1.invoices.retrieve(invoice_id), days, started)
    assert fake.retry_invoice(invoice_id)["next_payment_attempt"] is None  # the 4th was the last
    failures = hooks.wait_for(lambda e: about("invoice.payment_failed", invoice_id)(e), 5)
    deadline = time.monotonic() + 5
    while len(failures) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
        failures = [e for e in hooks.events() if about("invoice.payment_failed", invoice_id)(e)]
    assert [e.data.object.attempt_count for e in failures] == [1, 2, 3, 4]
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"


def test_a_card_saved_with_a_setup_intent_pays_the_next_renewal(fake, client, price):
    sub, _ = active_subscription(fake, client, price)
    old = with_default_card(client, sub, "pm_card_chargeCustomerFail")
    invoice_id = fake.renew(sub.id)["latest_invoice"]["id"]  # declined: past_due
    setup = client.v1.setup_intents.create(params={"customer": sub.customer})
    setup = client.v1.setup_intents.confirm(setup.id, {"payment_method": "pm_card_mastercard"})
    assert setup.status == "succeeded"

    updated = client.v1.subscriptions.update(
        sub.id, {"default_payment_method": setup.payment_method}
    )
    owner = client.v1.customers.update(
        sub.customer, {"invoice_settings": {"default_payment_method": setup.payment_method}}
    )

    assert updated.default_payment_method == setup.payment_method != old.id
    assert owner.invoice_settings.default_payment_method == setup.payment_method
    retried = fake.retry_invoice(invoice_id)  # Stripe's next retry charges the new default
    assert retried["status"] == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    renewal = fake.renew(sub.id)["latest_invoice"]
    assert renewal["status"] == "paid"
    assert intent_of(invoice_of(client, renewal["id"])).payment_method == setup.payment_method


def test_retry_is_refused_where_stripe_would_not_retry(fake, client, price):
    sub, _ = active_subscription(fake, client, price)
    paid = client.v1.subscriptions.retrieve(sub.id).latest_invoice
    with pytest.raises(FakeStripeError, match="HTTP 400"):
        fake.retry_invoice(paid)


def test_invoice_periods_are_stripes_usage_periods(fake, client, price, hooks):
    """Invoice-level period_start/period_end are the usage period (empty on a first invoice,
    the period that ended on a renewal); the period paid for is on the line."""
    sub, _ = active_subscription(fake, client, price)
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert first.period_start == first.period_end == first.created
    item = sub["items"].data[0]
    assert first.lines.data[0].period.start == item.current_period_start
    renewal = client.v1.invoices.retrieve(fake.renew(sub.id)["latest_invoice"]["id"])
    assert (renewal.period_start, renewal.period_end) == (
        item.current_period_start,
        item.current_period_end,
    )
    assert renewal.lines.data[0].period.start == item.current_period_end
    created = hooks.wait_for(about("invoice.created", renewal.id))[0]
    assert created.data.object.billing_reason == "subscription_cycle"
    assert created.data.object.period_end == item.current_period_end
    assert renewal.number and renewal.number != first.number
