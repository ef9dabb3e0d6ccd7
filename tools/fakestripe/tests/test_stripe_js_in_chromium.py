"""The Stripe.js stand-in's Payment Element in a real headless Chromium, against the stand-in.

A small page (served from a loopback http.server, so Stripe.js calls the stand-in cross-origin
with CORS, as a browser calls api.stripe.com) loads ``/js.stripe.com/v3/`` from the stand-in,
runs one scenario of ``?case=...`` with the page's own script and writes ``RESULT{json}END``;
Chromium's ``--dump-dom`` hands the page back. The 3-D Secure box is answered by a
MutationObserver clicking "Complete" or "Fail". Keyboard use and what a person sees are tested
by the app's browser journeys (``frontend/e2e/``). Skipped when Chromium is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

PAGE = """<!doctype html><html lang="en"><head><title>Payment Element</title></head><body>
<div id="payment"></div><pre id="out">pending</pre>
<script src="__STRIPE__/js.stripe.com/v3/"></script>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const out = (data) => {
    document.getElementById('out').textContent = 'RESULT' + JSON.stringify(data) + 'END';
  };
  const stripe = Stripe(q.get('pk'));
  const yy = String((new Date().getFullYear() + 3) % 100);
  const field = (id) => document.querySelector('[data-test="' + id + '"]');
  const fill = (id, value) => {
    field(id).value = value;
    field(id).dispatchEvent(new Event('input'));
    field(id).dispatchEvent(new Event('blur'));
  };
  const fillCard = (number) => {
    fill('card-number', number);
    fill('card-expiry', '12' + yy);
    fill('card-cvc', '123');
    fill('card-postal-code', '10001');
  };
  const brief = (r) => ({
    status: (r.paymentIntent || r.setupIntent || {}).status || null,
    pm: (r.paymentIntent || r.setupIntent || {}).payment_method || null,
    error: r.error ? {type: r.error.type, code: r.error.code, message: r.error.message} : null,
  });
  const answer = q.get('auth') === 'fail' ? 1 : 0;
  new MutationObserver(() => {
    const buttons = document.querySelectorAll('[role=dialog] button');
    if (buttons.length) buttons[answer].click();
  }).observe(document.body, {childList: true, subtree: true});
  const secret = q.get('secret');
  const returnUrl = location.origin + '/page?case=returned&pk=' + q.get('pk');
  try {
    const c = q.get('case');
    if (c === 'frame') {  // runs ?inner=... in an iframe and reports where that frame ended up
      const frame = document.createElement('iframe');
      q.set('case', q.get('inner'));
      frame.src = '/page?' + q.toString();
      document.body.appendChild(frame);
      const poll = setInterval(() => {
        const text = (frame.contentDocument.getElementById('out') || {}).textContent || '';
        if (text.startsWith('RESULT')) {
          clearInterval(poll);
          out(JSON.parse(text.slice(6, -3)));
        }
      }, 50);
      return;
    }
    if (c === 'returned') {
      const got = await stripe.retrievePaymentIntent(q.get('payment_intent_client_secret'));
      out({params: Object.fromEntries(q.entries()), status: got.paymentIntent.status});
      return;
    }
    if (c === 'next_action') {
      out(brief(await stripe.handleNextAction({clientSecret: secret})));
      return;
    }
    const setup = c === 'setup';
    const elements = setup ? stripe.elements({clientSecret: secret})
      : stripe.elements({mode: c === 'manual' ? 'payment' : 'subscription', amount: 1500,
                         currency: 'usd',
                         paymentMethodCreation: c === 'manual' ? 'manual' : undefined});
    const element = elements.create('payment');
    const changes = [];
    element.on('change', (e) => changes.push(e));
    const ready = new Promise((resolve) => element.on('ready', resolve));
    element.mount('#payment');
    await ready;
    if (c === 'validation') {
      const fields = Array.from(document.querySelectorAll('#payment input, #payment select'))
        .map((i) => ({label: i.labels[0].textContent, test: i.dataset.test,
                      autocomplete: i.getAttribute('autocomplete')}));
      const empty = await elements.submit();
      const shown = () => Array.from(document.querySelectorAll('#payment [aria-invalid=true]'))
        .map((i) => [i.dataset.test,
                     document.getElementById(i.getAttribute('aria-describedby')).textContent]);
      const emptyShown = shown();
      const focused = document.activeElement.dataset.test;
      fill('card-number', '4242424242424242');
      fill('card-expiry', '1');
      const half = await elements.submit();
      const halfShown = shown();
      let unsubmitted = null;
      try {
        await stripe.confirmPayment({elements, clientSecret: secret, redirect: 'if_required'});
      } catch (e) {
        unsubmitted = e.name + ': ' + e.message;
      }
      fill('card-number', '4242424242424241');
      fill('card-expiry', '12' + yy);
      const invalid = await elements.submit();
      out({fields, empty: empty.error, emptyShown, focused, half: half.error, halfShown,
           unsubmitted, invalid: invalid.error, change: changes[changes.length - 1]});
      return;
    }
    fillCard(q.get('number'));
    const submitted = await elements.submit();
    if (c === 'manual') {
      const made = await stripe.createPaymentMethod({elements});
      out({submitted, last4: made.paymentMethod.card.last4, pm: made.paymentMethod.id,
           country: made.paymentMethod.billing_details.address.country});
      return;
    }
    const confirm = (opts) => setup
      ? stripe.confirmSetup(Object.assign({elements}, opts))
      : stripe.confirmPayment(Object.assign({elements, clientSecret: secret}, opts));
    if (c === 'redirect') {
      await confirm({confirmParams: {return_url: returnUrl}});
      out({error: 'confirmPayment resolved instead of leaving the page'});
      return;
    }
    const first = brief(await confirm({confirmParams: {return_url: returnUrl},
                                       redirect: 'if_required'}));
    let retry = null;
    if (q.get('retry')) {
      fillCard(q.get('retry'));
      await elements.submit();
      retry = brief(await confirm({confirmParams: {return_url: returnUrl},
                                   redirect: 'if_required'}));
    }
    let retrieved = null;
    if (setup) retrieved = (await stripe.retrieveSetupIntent(secret)).setupIntent.status;
    out({submitted, first, retry, retrieved,
         complete: changes.length ? changes[changes.length - 1].complete : null});
  } catch (e) {
    out({crash: e.name + ': ' + e.message});
  }
})();
</script></body></html>"""


@pytest.fixture(scope="module")
def page_origin(fake):
    """A loopback web server that serves the test page for any path."""
    body = PAGE.replace("__STRIPE__", fake.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_page(origin: str, fake, **params: str) -> dict:
    query = urllib.parse.urlencode({"pk": fake.publishable_key, **params})
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"{origin}/page?{query}",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout
    match = re.search(r"RESULT(.*?)END", dom)
    assert match, dom[-2000:]
    result = json.loads(match.group(1))
    assert "crash" not in result, result["crash"]
    return result


def new_subscription(client, price):
    customer = client.v1.customers.create(params={"email": f"pe{uuid.uuid4().hex[:8]}@x.test"})
    return client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )


def secret_of(sub) -> str:
    return sub.latest_invoice.confirmation_secret.client_secret


def test_payment_element_validates_like_stripe_and_calls_nothing(fake, client, price, page_origin):
    sub = new_subscription(client, price)
    fake.clear_requests_log()
    result = run_page(page_origin, fake, case="validation", secret=secret_of(sub))

    assert result["fields"] == [
        {"label": "Card number", "test": "card-number", "autocomplete": "cc-number"},
        {"label": "Expiration date", "test": "card-expiry", "autocomplete": "cc-exp"},
        {"label": "Security code", "test": "card-cvc", "autocomplete": "cc-csc"},
        {"label": "Country", "test": "card-country", "autocomplete": "country"},
        {"label": "ZIP code", "test": "card-postal-code", "autocomplete": "postal-code"},
    ]
    assert result["empty"] == {
        "type": "validation_error",
        "code": "incomplete_number",
        "message": "Your card number is incomplete.",
    }
    assert result["emptyShown"] == [
        ["card-number", "Your card number is incomplete."],
        ["card-expiry", "Your card's expiration date is incomplete."],
        ["card-cvc", "Your card's security code is incomplete."],
        ["card-postal-code", "Your ZIP is incomplete."],
    ]
    assert result["focused"] == "card-number"  # the first field in error, as Stripe does
    assert result["half"]["code"] == "incomplete_expiry"
    assert [test for test, _ in result["halfShown"]] == [
        "card-expiry",
        "card-cvc",
        "card-postal-code",
    ]
    assert result["unsubmitted"].startswith(
        "IntegrationError: elements.submit() must be called before stripe.confirmPayment()"
    )
    assert result["invalid"]["code"] == "invalid_number"
    assert result["change"] == {
        "elementType": "payment",
        "empty": False,
        "complete": False,
        "collapsed": False,
        "value": {"type": "card"},
    }
    assert fake.requests_log() == []  # nothing reached the API
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"


@pytest.mark.parametrize(
    ("number", "auth", "retry", "first", "code"),
    [
        ("4242424242424242", "", "", "succeeded", None),
        ("4000002500003155", "ok", "", "succeeded", None),
        ("4000002500003155", "fail", "", None, "payment_intent_authentication_failure"),
        ("4000000000000002", "", "4242424242424242", None, "card_declined"),
    ],
)
def test_confirm_payment_deferred_subscription(
    fake, client, price, page_origin, number, auth, retry, first, code
):
    sub = new_subscription(client, price)
    result = run_page(
        page_origin, fake, case="pay", secret=secret_of(sub), number=number, auth=auth, retry=retry
    )
    assert result["submitted"] == {"selectedPaymentMethod": "card"}
    assert result["complete"] is True
    assert result["first"]["status"] == first
    sub = client.v1.subscriptions.retrieve(sub.id)
    if code:
        assert result["first"]["error"]["code"] == code
        assert result["first"]["error"]["message"]
    if retry:  # another card on the same page, the same PaymentIntent
        assert result["retry"] == {
            "status": "succeeded",
            "pm": sub.default_payment_method,
            "error": None,
        }
    if first or retry:
        assert sub.status == "active" and sub.default_payment_method
        pm = client.v1.payment_methods.retrieve(sub.default_payment_method)
        assert pm.card.last4 == (retry or number)[-4:]
        assert pm.billing_details.address.postal_code == "10001"
        assert pm.billing_details.address.country == "US"
    else:
        assert sub.status == "incomplete"


def test_confirm_payment_redirects_to_the_return_url(fake, client, price, page_origin):
    sub = new_subscription(client, price)
    secret = secret_of(sub)
    # In an iframe: headless Chromium's --dump-dom does not follow a top-level navigation.
    result = run_page(
        page_origin, fake, case="frame", inner="redirect", secret=secret, number="4242424242424242"
    )
    assert result["params"]["case"] == "returned"
    assert result["params"]["payment_intent"] == secret.split("_secret_")[0]
    assert result["params"]["payment_intent_client_secret"] == secret
    assert result["params"]["redirect_status"] == "succeeded"
    assert result["status"] == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


@pytest.mark.parametrize(
    ("number", "auth", "status", "code"),
    [
        ("4242424242424242", "", "succeeded", None),
        ("4000002500003155", "ok", "succeeded", None),
        ("4000002500003155", "fail", None, "setup_intent_authentication_failure"),
        ("4000000000000002", "", None, "card_declined"),
    ],
)
def test_confirm_setup_saves_the_card_for_the_customer(
    fake, client, page_origin, number, auth, status, code
):
    customer = client.v1.customers.create(params={"email": "setup@x.test"})
    seti = client.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session"})
    result = run_page(
        page_origin, fake, case="setup", secret=seti.client_secret, number=number, auth=auth
    )
    assert result["first"]["status"] == status
    saved = client.v1.payment_methods.list({"customer": customer.id}).data
    seti = client.v1.setup_intents.retrieve(seti.id)
    if code:
        assert result["first"]["error"]["code"] == code
        assert result["retrieved"] == "requires_payment_method"
        assert saved == [] and seti.last_setup_error.code == code
    else:
        assert result["first"]["pm"] == seti.payment_method
        assert result["retrieved"] == "succeeded"
        assert [pm.id for pm in saved] == [seti.payment_method]
        assert saved[0].card.last4 == number[-4:]
        events = client.v1.events.list({"type": "setup_intent.succeeded"}).data
        assert seti.id in [e.data.object.id for e in events]


def test_handle_next_action_after_a_server_side_confirmation(fake, client, page_origin):
    customer = client.v1.customers.create(params={"email": "next@x.test"})
    intent = client.v1.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
        }
    )
    assert intent.status == "requires_action"
    result = run_page(page_origin, fake, case="next_action", secret=intent.client_secret, auth="ok")
    assert result["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_handle_next_action_pays_an_invoice_that_needs_authentication(
    fake, client, price, page_origin
):
    """Confirming a renewal: ``/pay`` answers ``invoice_payment_intent_requires_action``, the
    browser runs ``handleNextAction`` with the invoice's client secret; a failed authentication
    leaves the invoice open, a passed one pays it and the subscription is active again."""
    customer = client.v1.customers.create(params={"email": f"renew{uuid.uuid4().hex[:6]}@x.test"})
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "default_payment_method": card.id,
        }
    )
    invoice_id = fake.fail_renewal(sub.id)["latest_invoice"]["id"]

    def pay_needs_action() -> str:
        with pytest.raises(stripe.CardError) as needs_action:
            client.v1.invoices.pay(invoice_id, {"payment_method": "pm_card_authenticationRequired"})
        assert needs_action.value.code == "invoice_payment_intent_requires_action"
        invoice = client.v1.invoices.retrieve(invoice_id, {"expand": ["confirmation_secret"]})
        return invoice.confirmation_secret.client_secret

    failed = run_page(page_origin, fake, case="next_action", secret=pay_needs_action(), auth="fail")
    assert failed["error"]["code"] == "payment_intent_authentication_failure"
    assert client.v1.invoices.retrieve(invoice_id).status == "open"
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"

    passed = run_page(page_origin, fake, case="next_action", secret=pay_needs_action(), auth="ok")
    assert passed["status"] == "succeeded" and passed["error"] is None
    assert client.v1.invoices.retrieve(invoice_id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_create_payment_method_from_the_payment_element(fake, client, page_origin):
    result = run_page(page_origin, fake, case="manual", number="5555555555554444")
    assert result["last4"] == "4444" and result["country"] == "US"
    assert client.v1.payment_methods.retrieve(result["pm"]).card.brand == "mastercard"


def test_zz_no_internal_errors_in_the_server_log(fake):
    assert "internal error" not in fake.log_tail(100000)
