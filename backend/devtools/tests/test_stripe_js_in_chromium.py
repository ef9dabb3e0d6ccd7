"""The Stripe.js stand-in in a real headless Chromium, served same-origin through the dev proxy.

Skipped when Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import socketserver
import subprocess
import tempfile
import threading
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import stripe

from fakestripe import testing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

PAGE = """<!doctype html><html lang="en"><body><div id="card"></div><pre id="out">pending</pre>
<script src="/js.stripe.com/v3/"></script>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const stripe = Stripe(q.get('pk'));
  const card = stripe.elements().create('card');
  let complete = false;
  card.on('change', (e) => { complete = e.complete; });
  card.mount('#card');
  const fill = (label, value) => {
    const input = document.querySelector(`input[aria-label="${label}"]`);
    input.value = value;
    input.dispatchEvent(new Event('input'));
  };
  fill('Card number', q.get('number'));
  fill('Expiration month (MM)', '12');
  fill('Expiration year (YY)', '34');
  fill('CVC', '123');
  fill('ZIP / postal code', '10001');
  const button = q.get('auth') === 'fail' ? 1 : 0;
  new MutationObserver(() => {
    const buttons = document.querySelectorAll('[role=dialog] button');
    if (buttons.length) buttons[button].click();
  }).observe(document.body, {childList: true, subtree: true});
  const r = await stripe.confirmCardPayment(q.get('secret'), {
    payment_method: {card, billing_details: {name: 'Browser'}}});
  const pm = await stripe.createPaymentMethod({type: 'card', card});
  document.getElementById('out').textContent = 'RESULT' + JSON.stringify({
    status: r.paymentIntent ? r.paymentIntent.status : null,
    error: r.error ? {type: r.error.type, code: r.error.code, message: r.error.message} : null,
    pm: pm.paymentMethod ? pm.paymentMethod.card.last4 : null,
    complete,
  }) + 'END';
})();
</script></body></html>"""


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stand_in(fake_stripe):
    """stripe-python's client of the stand-in (the session's, see backend/conftest.py)."""
    return testing.stripe_client(fake_stripe)


@pytest.fixture(scope="module")
def price(stand_in):
    return testing.premium_price(stand_in)


@pytest.fixture
def app_origin(fake_stripe, settings):
    """A stand-in for the app: serves the test page and mounts ``stripe_proxy``."""
    from django.core.handlers.wsgi import WSGIRequest
    from django.http import Http404

    from devtools.stripe_proxy import stripe_proxy

    settings.DEVTOOLS_ALLOWED = True
    settings.STRIPE_API_HOST = fake_stripe.url

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/page":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [PAGE.encode()]
        try:
            response = stripe_proxy(WSGIRequest(environ), path=path.lstrip("/"))
        except Http404:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]

    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_page(url: str) -> dict:
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
                "--virtual-time-budget=10000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout
    match = re.search(r"RESULT(.*?)END", dom)
    assert match, dom[-2000:]
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    ("number", "auth", "status", "code", "message"),
    [
        ("4242424242424242", "", "succeeded", None, None),
        ("4000002500003155", "ok", "succeeded", None, None),
        (
            "4000002500003155",
            "fail",
            None,
            "payment_intent_authentication_failure",
            "We are unable to authenticate your payment method. Please choose a different payment "
            "method and try again.",
        ),
        ("4000000000000002", "", None, "card_declined", "Your card was declined."),
    ],
)
def test_confirm_card_payment_in_chromium(
    fake_stripe, stand_in, price, app_origin, number, auth, status, code, message
):
    customer = stand_in.v1.customers.create(params={"email": "browser@example.com"})
    sub = stand_in.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    query = urllib.parse.urlencode(
        {
            "pk": fake_stripe.publishable_key,
            "number": number,
            "auth": auth,
            "secret": sub.latest_invoice.confirmation_secret.client_secret,
        }
    )
    result = run_page(f"{app_origin}/page?{query}")
    assert result["complete"] is True
    assert result["pm"] == number[-4:]  # createPaymentMethod from the element
    assert result["status"] == status
    if code:
        assert result["error"] == {"type": "card_error", "code": code, "message": message}
        assert stand_in.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    else:
        assert result["error"] is None
        sub = stand_in.v1.subscriptions.retrieve(sub.id)
        assert sub.status == "active" and sub.default_payment_method
    assert stripe.api_version  # the stand-in answered stripe-python's version all along
