"""Free trials in the stand-in, driven with stripe-python 15 as the app's trial purchase calls
them: a trialing subscription with a USD 0 first invoice and a pending SetupIntent, the card
saved through it (by the API and by the Stripe.js stand-in's ``confirmSetup`` in Chromium), and
the trial's end through the ``_config`` helpers — charged, declined, cancelled, paused — with the
webhooks received and signature-checked by a local endpoint."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from test_stripe_js_in_chromium import CHROMIUM, page_origin, run_page  # noqa: F401 (fixture)

from fakestripe import testing
from fakestripe.testing import WebhookReceiver

DAY = 86400
SECRET = "whsec_trials"


@pytest.fixture(scope="module")
def hooks(fake):
    receiver = WebhookReceiver(SECRET)
    fake.register_webhook(receiver.url, SECRET, name="trials")
    yield receiver
    fake.unregister_webhook("trials")
    receiver.close()


@pytest.fixture(scope="module")
def monthly(client):
    return testing.premium_price(client, amount=2000)


def new_customer(client):
    return client.v1.customers.create(params={"email": f"t{uuid.uuid4().hex[:8]}@example.com"})


def start_trial(client, price, customer_id=None, days=7, behavior="cancel", **params):
    """What the app sends for a trial (contract of issue 15)."""
    return client.v1.subscriptions.create(
        params={
            "customer": customer_id or new_customer(client).id,
            "items": [{"price": price.id}],
            "trial_period_days": days,
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "trial_settings": {"end_behavior": {"missing_payment_method": behavior}},
            "expand": ["latest_invoice", "pending_setup_intent"],
            **params,
        }
    )


def save_card(client, sub, card="pm_card_visa"):
    return client.v1.setup_intents.confirm(sub.pending_setup_intent.id, {"payment_method": card})


def end_trial(fake, sub_id):
    return fake.end_trial(sub_id)


def about(event_type, object_id):
    return lambda e: e.type == event_type and e.data.object.id == object_id


def invoices_of(client, sub_id):
    return client.v1.invoices.list(params={"subscription": sub_id}).data


def test_trial_starts_trialing_with_a_paid_zero_invoice_and_a_setup_intent(client, monthly, hooks):
    before = int(time.time())
    sub = start_trial(client, monthly)
    assert sub.status == "trialing"
    assert before <= sub.trial_start <= time.time()
    assert sub.trial_end == sub.trial_start + 7 * DAY
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (sub.trial_start, sub.trial_end)
    assert sub.billing_cycle_anchor == sub.trial_end
    assert sub.trial_settings.end_behavior.missing_payment_method == "cancel"
    assert sub.default_payment_method is None
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.amount_due, invoice.billing_reason) == (
        "paid",
        0,
        "subscription_create",
    )
    (line,) = invoice.lines.data
    assert (line.amount, line.description) == (0, "Trial period for Premium")
    assert (line.period.start, line.period.end) == (sub.trial_start, sub.trial_end)
    intent = sub.pending_setup_intent
    assert intent.object == "setup_intent" and intent.status == "requires_payment_method"
    assert (intent.customer, intent.usage) == (sub.customer, "off_session")
    assert intent.client_secret.startswith(intent.id + "_secret_")
    (created,) = hooks.wait_for(about("customer.subscription.created", sub.id), timeout=15)
    assert created.data.object.status == "trialing"  # trialing from the first event on
    assert created.data.object.pending_setup_intent == intent.id


def test_confirming_the_pending_setup_intent_makes_its_card_the_default(client, monthly, hooks):
    sub = start_trial(client, monthly)
    intent = save_card(client, sub)
    assert intent.status == "succeeded"
    again = client.v1.subscriptions.retrieve(sub.id)
    assert again.default_payment_method == intent.payment_method
    assert again.pending_setup_intent is None and again.status == "trialing"
    (updated,) = hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and "pending_setup_intent" in e.data.previous_attributes
        ),
        timeout=15,
    )
    assert updated.data.previous_attributes.pending_setup_intent == intent.id
    assert updated.data.previous_attributes.default_payment_method is None
    assert updated.data.object.default_payment_method == intent.payment_method


def test_a_declined_card_leaves_the_setup_intent_pending(client, monthly):
    sub = start_trial(client, monthly)
    with pytest.raises(stripe.CardError):
        save_card(client, sub, "pm_card_chargeDeclined")
    again = client.v1.subscriptions.retrieve(sub.id)
    assert again.pending_setup_intent == sub.pending_setup_intent.id
    assert again.default_payment_method is None


def test_trial_will_end_event(fake, client, monthly, hooks):
    sub = start_trial(client, monthly)
    answer = fake.trial_will_end(sub.id)
    assert answer["id"] == sub.id
    (event,) = hooks.wait_for(about("customer.subscription.trial_will_end", sub.id), timeout=15)
    assert event.data.object.trial_end == sub.trial_end


def test_end_of_trial_charges_the_saved_card(fake, client, monthly, hooks):
    sub = start_trial(client, monthly)
    intent = save_card(client, sub)
    before = int(time.time())
    ended = end_trial(fake, sub.id)
    assert ended["status"] == "active"
    assert before <= ended["trial_end"] <= time.time()
    item = ended["items"]["data"][0]
    assert item["current_period_start"] == ended["trial_end"]
    assert item["current_period_end"] >= item["current_period_start"] + 28 * DAY
    invoice = ended["latest_invoice"]
    assert (invoice["status"], invoice["amount_paid"], invoice["billing_reason"]) == (
        "paid",
        2000,
        "subscription_cycle",
    )
    assert (invoice["period_start"], invoice["period_end"]) == (sub.trial_start, ended["trial_end"])
    paid = client.v1.invoices.retrieve(
        invoice["id"], {"expand": ["payments.data.payment.payment_intent"]}
    )
    assert paid.payments.data[0].payment.payment_intent.payment_method == intent.payment_method
    hooks.wait_for(about("invoice.paid", invoice["id"]), timeout=15)
    (updated,) = hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and e.data.previous_attributes.to_dict().get("status") == "trialing"
        ),
        timeout=15,
    )
    assert updated.data.object.status == "active"
    assert fake.renew(sub.id)["latest_invoice"]["amount_paid"] == 2000


def test_a_once_code_is_kept_for_the_first_charge_after_the_trial(fake, client, monthly):
    coupon = client.v1.coupons.create(params={"percent_off": 50, "duration": "once"})
    promo = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}}
    )
    sub = start_trial(client, monthly, discounts=[{"promotion_code": promo.id}])
    assert sub.latest_invoice.amount_due == 0
    assert sub.latest_invoice.total_discount_amounts == []  # ignored on a USD 0 invoice
    assert len(sub.discounts) == 1
    save_card(client, sub)
    assert end_trial(fake, sub.id)["latest_invoice"]["amount_paid"] == 1000
    assert fake.renew(sub.id)["latest_invoice"]["amount_paid"] == 2000


def test_a_declining_card_at_the_end_of_the_trial_is_past_due(fake, client, monthly, hooks):
    sub = start_trial(client, monthly)
    save_card(client, sub, "pm_card_chargeCustomerFail")  # saved fine, declined when charged
    ended = end_trial(fake, sub.id)
    assert ended["status"] == "past_due"
    invoice = ended["latest_invoice"]
    assert (invoice["status"], invoice["amount_due"], invoice["attempt_count"]) == ("open", 2000, 1)
    hooks.wait_for(about("invoice.payment_failed", invoice["id"]), timeout=15)


@pytest.mark.parametrize("cancel", ["delete", "at_period_end"])
def test_cancelling_during_the_trial_never_charges(fake, client, monthly, hooks, cancel):
    sub = start_trial(client, monthly)
    save_card(client, sub)
    if cancel == "delete":
        ended = client.v1.subscriptions.cancel(sub.id)
        assert ended.status == "canceled"
    else:
        scheduled = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
        assert scheduled.cancel_at == sub.trial_end and scheduled.status == "trialing"
        assert end_trial(fake, sub.id)["status"] == "canceled"
    hooks.wait_for(about("customer.subscription.deleted", sub.id), timeout=15)
    assert [(i.amount_due, i.billing_reason) for i in invoices_of(client, sub.id)] == [
        (0, "subscription_create")
    ]


@pytest.mark.parametrize(
    "behavior, status, event",
    [
        ("cancel", "canceled", "customer.subscription.deleted"),
        ("pause", "paused", "customer.subscription.paused"),
        ("create_invoice", "past_due", "invoice.payment_failed"),
    ],
)
def test_end_of_trial_without_a_card(fake, client, monthly, hooks, behavior, status, event):
    sub = start_trial(client, monthly, behavior=behavior)
    ended = end_trial(fake, sub.id)
    assert ended["status"] == status
    subject = ended["latest_invoice"]["id"] if event.startswith("invoice.") else sub.id
    hooks.wait_for(about(event, subject), timeout=15)
    paid = [i.amount_paid for i in invoices_of(client, sub.id)]
    assert sum(paid) == 0


def test_trial_end_timestamp_and_refusals(client, monthly):
    cus = new_customer(client)
    end = int(time.time()) + 3 * DAY
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": monthly.id}], "trial_end": end}
    )
    assert (sub.status, sub.trial_end) == ("trialing", end)
    assert sub.trial_settings.end_behavior.missing_payment_method == "create_invoice"
    # error_if_incomplete needs no card during a trial
    client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": monthly.id}],
            "trial_period_days": 1,
            "payment_behavior": "error_if_incomplete",
        }
    )
    refused = [
        ({"trial_period_days": -1}, "trial_period_days"),
        ({"trial_period_days": 731}, "trial_period_days"),
        ({"trial_end": 1_000_000_000}, "trial_end"),
        ({"trial_end": end, "trial_period_days": 3}, None),
        (
            {
                "trial_period_days": 3,
                "trial_settings": {"end_behavior": {"missing_payment_method": "explode"}},
            },
            "trial_settings[end_behavior][missing_payment_method]",
        ),
    ]
    for params, param in refused:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.subscriptions.create(
                params={"customer": cus.id, "items": [{"price": monthly.id}], **params}
            )
        assert info.value.param == param
    active = client.v1.subscriptions.list(params={"customer": cus.id}).data
    assert len(active) == 2


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_confirm_setup_in_the_browser_saves_the_trial_card(
    fake,
    client,
    monthly,
    page_origin,  # noqa: F811 (the imported fixture)
):
    sub = start_trial(client, monthly)
    result = run_page(
        page_origin,
        fake,
        case="setup",
        secret=sub.pending_setup_intent.client_secret,
        number="4242424242424242",
        auth="ok",
    )
    assert result["first"]["status"] == "succeeded"
    again = client.v1.subscriptions.retrieve(sub.id)
    assert again.pending_setup_intent is None
    assert again.default_payment_method == result["first"]["pm"]
    assert end_trial(fake, sub.id)["latest_invoice"]["amount_paid"] == 2000


#: The purchase page's way (contract of issue 15): the card is collected before the
#: subscription exists (``mode: "setup"``), then the pending SetupIntent's secret confirms it.
DEFERRED_SETUP_PAGE = """<!doctype html><html lang="en"><head><title>Trial</title></head><body>
<div id="payment"></div><pre id="out">pending</pre>
<script src="__STRIPE__/js.stripe.com/v3/"></script>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const out = (data) => {
    document.getElementById('out').textContent = 'RESULT' + JSON.stringify(data) + 'END';
  };
  try {
    const stripe = Stripe(q.get('pk'));
    const elements = stripe.elements({mode: 'setup', currency: 'usd'});
    const element = elements.create('payment');
    const ready = new Promise((resolve) => element.on('ready', resolve));
    element.mount('#payment');
    await ready;
    const fill = (id, value) => {
      const field = document.querySelector('[data-test="' + id + '"]');
      field.value = value;
      field.dispatchEvent(new Event('input'));
      field.dispatchEvent(new Event('blur'));
    };
    fill('card-number', q.get('number'));
    fill('card-expiry', '12' + String((new Date().getFullYear() + 3) % 100));
    fill('card-cvc', '123');
    fill('card-postal-code', '10001');
    const submitted = await elements.submit();
    const r = await stripe.confirmSetup({elements, clientSecret: q.get('secret'),
      confirmParams: {return_url: location.origin + '/done'}, redirect: 'if_required'});
    out({submitted: !submitted.error, status: r.setupIntent ? r.setupIntent.status : null,
         pm: r.setupIntent ? r.setupIntent.payment_method : null,
         error: r.error ? r.error.code : null});
  } catch (e) {
    out({crash: e.name + ': ' + e.message});
  }
})();
</script></body></html>"""


@pytest.fixture(scope="module")
def deferred_setup_origin(fake):
    body = DEFERRED_SETUP_PAGE.replace("__STRIPE__", fake.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.parametrize(
    "number, status", [("4242424242424242", "succeeded"), ("4000000000000002", None)]
)
def test_deferred_setup_element_confirms_the_pending_setup_intent(
    fake, client, monthly, deferred_setup_origin, number, status
):
    sub = start_trial(client, monthly)
    result = run_page(
        deferred_setup_origin, fake, secret=sub.pending_setup_intent.client_secret, number=number
    )
    assert result["submitted"] is True and result["status"] == status
    again = client.v1.subscriptions.retrieve(sub.id)
    if status == "succeeded":
        assert again.default_payment_method == result["pm"]
        assert again.pending_setup_intent is None
    else:  # declined: the trial keeps waiting for a card
        assert result["error"] == "card_declined"
        assert again.default_payment_method is None
        assert again.pending_setup_intent == sub.pending_setup_intent.id
