"""The offline Stripe stand-in, driven exactly like the app drives Stripe (stripe-python 15)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
import stripe

from fakestripe import testing
from fakestripe.launcher import FakeStripe, FakeStripeError
from fakestripe.testing import WebhookReceiver as Receiver

MONTH_MIN, MONTH_MAX = 28 * 86400, 31 * 86400 + 3600
WEBHOOK_SECRET = "whsec_test_offline_receiver"


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def receiver(fake):
    r = Receiver(WEBHOOK_SECRET)
    fake.register_webhook(r.url, WEBHOOK_SECRET)
    yield r
    fake.unregister_webhook()
    r.close()


def new_customer(client, **extra):
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    return client.v1.customers.create(
        params={"email": email, "name": "Test User", "metadata": {"user_id": "42"}, **extra}
    )


def create_sub(client, customer_id, price_id, **params):
    body = {
        "customer": customer_id,
        "items": [{"price": price_id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"user_id": "42"},
        "expand": ["latest_invoice.confirmation_secret"],
    }
    body.update(params)
    return client.v1.subscriptions.create(
        params=body, options={"idempotency_key": uuid.uuid4().hex}
    )


def pi_id_of(sub):
    return sub.latest_invoice.confirmation_secret.client_secret.split("_secret_")[0]


# -- process ------------------------------------------------------------------------------------


def test_binds_loopback_only_and_prints_url(fake):
    assert fake.url.startswith("http://127.0.0.1:")
    port = int(fake.url.rsplit(":", 1)[1])
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(table):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    local, state = line.split()[1], line.split()[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        listening.add(local.rsplit(":", 1)[0])
    assert listening == {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0 nor ::


def test_refuses_to_bind_all_interfaces(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fakestripe", "--host", "0.0.0.0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert "loopback" in result.stderr
    assert "FAKESTRIPE_URL" not in result.stdout


def test_restart_keeps_state(tmp_path):
    # (How fast it starts is not asserted here: timings belong in benchmarks, not tests.)
    fs = FakeStripe(state_dir=str(tmp_path / "state"))
    fs.start()
    try:
        c = stripe.StripeClient(
            fs.secret_key, base_addresses={"api": fs.url}, max_network_retries=0
        )
        cus = new_customer(c)
        pm = c.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
        sub = create_sub(
            c,
            cus.id,
            testing.premium_price(c).id,
            default_payment_method=pm.id,
            payment_behavior="allow_incomplete",
        )
        assert sub.status == "active"
        fs.register_webhook("http://127.0.0.1:9/never", "whsec_x", name="persisted")
        old_pid = fs.pid
        fs.restart()
        assert fs.pid != old_pid
        c = stripe.StripeClient(
            fs.secret_key, base_addresses={"api": fs.url}, max_network_retries=0
        )
        assert c.v1.customers.retrieve(cus.id).email == cus.email
        assert c.v1.payment_methods.retrieve(pm.id).customer == cus.id
        again = c.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
        assert again.status == "active" and again.latest_invoice.status == "paid"
        assert again["items"].data[0].price.lookup_key == sub["items"].data[0].price.lookup_key
        with urllib.request.urlopen(fs.url + "/_config/webhooks") as r:
            assert [w["name"] for w in json.load(r)] == ["persisted"]
        fs.reset()
        with pytest.raises(stripe.InvalidRequestError) as e:
            c.v1.customers.retrieve(cus.id)
        assert e.value.http_status == 404 and e.value.code == "resource_missing"
    finally:
        pid = fs.pid
        fs.stop()
    assert not fs.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # no orphan


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_no_orphan_when_the_parent_is_killed(tmp_path):
    code = (
        "import sys, time; from fakestripe.launcher import FakeStripe; "
        f"fs = FakeStripe(state_dir={str(tmp_path)!r}).start(); "
        "print(fs.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    server_pid = int(parent.stdout.readline())
    assert _alive(server_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server_pid)


def test_start_failure_is_reported(tmp_path):
    fs = FakeStripe(host="127.0.0.1", state_dir=str(tmp_path), python="/bin/false")
    with pytest.raises(FakeStripeError, match="exited"):
        fs.start()


# -- catalogue ----------------------------------------------------------------------------------


def test_account_and_webhook_endpoints(client):
    account = client.v1.accounts.retrieve_current()
    assert account.id.startswith("acct_") and account.charges_enabled is True
    we = client.v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/wh", "enabled_events": ["invoice.paid"]}
    )
    assert we.secret.startswith("whsec_") and we.status == "enabled"
    assert client.v1.webhook_endpoints.retrieve(we.id).url == "http://127.0.0.1:9/wh"
    assert we.id in [w.id for w in client.v1.webhook_endpoints.list()]
    assert client.v1.webhook_endpoints.delete(we.id).deleted is True


def test_prices_products_lookup_keys(client, price):
    assert price.id.startswith("price_") and price.type == "recurring"
    assert price.recurring.interval == "month" and price.unit_amount == 1500
    got = client.v1.prices.retrieve(price.id)
    assert got.lookup_key == price.lookup_key and got.metadata["plan"] == "premium"
    listed = client.v1.prices.list(
        params={"lookup_keys": [price.lookup_key], "active": True, "expand": ["data.product"]}
    )
    assert [p.id for p in listed.data] == [price.id]
    assert listed.data[0].product.name == "Premium"
    assert client.v1.prices.list(params={"lookup_keys": ["nope-" + uuid.uuid4().hex]}).data == []
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        client.v1.prices.create(
            params={
                "product": got.product,
                "unit_amount": 1,
                "currency": "usd",
                "lookup_key": price.lookup_key,
            }
        )
    product = client.v1.products.retrieve(got.product)
    assert product.default_price is None and product.images == []
    assert product.id in [p.id for p in client.v1.products.list()]


# -- subscriptions ------------------------------------------------------------------------------


def test_default_incomplete_then_confirm_visa(client, price):
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    assert sub.status == "incomplete"
    assert sub.default_tax_rates == []
    assert sub.metadata["user_id"] == "42"
    assert "current_period_end" not in sub
    item = sub["items"].data[0]
    assert item.price.id == price.id and item.price.lookup_key == price.lookup_key
    assert item.price.product == price.product and item.price.recurring.interval == "month"
    invoice = sub.latest_invoice
    assert invoice.status == "open" and invoice.amount_due == 1500 and invoice.amount_paid == 0
    assert invoice.confirmation_secret.type == "payment_intent"
    assert invoice.parent.subscription_details.subscription == sub.id
    assert "payment_intent" not in invoice and invoice.lines.data[0].amount == 1500
    pi = client.v1.payment_intents.retrieve(pi_id_of(sub))
    assert pi.status == "requires_payment_method" and pi.latest_charge is None

    pi = client.v1.payment_intents.confirm(pi.id, {"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"

    sub = client.v1.subscriptions.retrieve(
        sub.id, {"expand": ["latest_invoice.confirmation_secret"]}
    )
    assert sub.status == "active"
    assert sub.default_payment_method == pi.payment_method  # save_default_payment_method
    item = sub["items"].data[0]
    assert MONTH_MIN <= item.current_period_end - time.time() <= MONTH_MAX
    assert item.current_period_start <= time.time()
    invoice = client.v1.invoices.retrieve(sub.latest_invoice.id)
    assert invoice.status == "paid" and invoice.amount_paid == 1500
    assert invoice.amount_remaining == 0
    assert client.v1.payment_methods.retrieve(pi.payment_method).customer == cus.id


def test_three_d_secure_requires_action_until_authenticated(fake, client, price):
    for test_pm in ("pm_card_threeDSecure2Required", "pm_card_authenticationRequired"):
        cus = new_customer(client)
        sub = create_sub(client, cus.id, price.id)
        pi = client.v1.payment_intents.confirm(pi_id_of(sub), {"payment_method": test_pm})
        assert pi.status == "requires_action" and pi.next_action.type == "use_stripe_sdk"
        assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
        done = fake.authenticate(pi.id, pi.client_secret, success=True)
        assert done["status"] == "succeeded"
        assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_three_d_secure_failure_keeps_subscription_incomplete(fake, client, price):
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    pi = client.v1.payment_intents.confirm(
        pi_id_of(sub), {"payment_method": "pm_card_threeDSecure2Required"}
    )
    failed = fake.authenticate(pi.id, pi.client_secret, success=False)
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert "unable to authenticate" in failed["last_payment_error"]["message"]
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    # the customer retries with another card on the same PaymentIntent
    pi = client.v1.payment_intents.confirm(pi.id, {"payment_method": "pm_card_mastercard"})
    assert pi.status == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_declined_cards_fail_on_attach(client):
    cus = new_customer(client)
    with pytest.raises(stripe.CardError) as e:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", {"customer": cus.id})
    assert e.value.code == "card_declined" and e.value.user_message == "Your card was declined."
    assert e.value.http_status == 402
    with pytest.raises(stripe.CardError) as e:
        client.v1.payment_methods.attach(
            "pm_card_chargeDeclinedInsufficientFunds", {"customer": cus.id}
        )
    assert e.value.error.decline_code == "insufficient_funds"
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4000000000000002", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    with pytest.raises(stripe.CardError, match=r"Your card was declined\."):
        client.v1.payment_methods.attach(pm.id, {"customer": cus.id})


def test_confirm_with_declined_card_then_retry(client, price):
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    with pytest.raises(stripe.CardError) as e:
        client.v1.payment_intents.confirm(
            pi_id_of(sub), {"payment_method": "pm_card_chargeDeclined"}
        )
    assert e.value.code == "card_declined"
    assert e.value.error.payment_intent.status == "requires_payment_method"
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    pi = client.v1.payment_intents.confirm(pi_id_of(sub), {"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"


def test_charge_customer_fail_with_allow_incomplete(client, price):
    cus = new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cus.id})
    assert pm.card.last4 == "0341"
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})
    sub = create_sub(
        client, cus.id, price.id, payment_behavior="allow_incomplete", default_payment_method=pm.id
    )
    assert sub.status == "incomplete"
    pi = client.v1.payment_intents.retrieve(pi_id_of(sub))
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "card_declined"
    assert pi.last_payment_error.message == "Your card was declined."
    assert client.v1.invoices.retrieve(sub.latest_invoice.id).status == "open"


def test_allow_incomplete_with_good_default_pm_is_active(client, price):
    cus = new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})
    sub = create_sub(client, cus.id, price.id, payment_behavior="allow_incomplete")
    assert sub.status == "active"
    assert sub.latest_invoice.status == "paid"


def test_error_if_incomplete_declined_creates_nothing(client, price):
    cus = new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cus.id})
    with pytest.raises(stripe.CardError):
        create_sub(
            client,
            cus.id,
            price.id,
            payment_behavior="error_if_incomplete",
            default_payment_method=pm.id,
        )
    assert client.v1.subscriptions.list({"customer": cus.id, "status": "all"}).data == []


def test_default_payment_method_must_belong_to_customer(client, price):
    cus, other = new_customer(client), new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": other.id})
    with pytest.raises(stripe.InvalidRequestError, match="does not have a payment method"):
        client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})


def test_payment_method_from_token_and_number(client):
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    assert pm.card.last4 == "4242" and pm.card.brand == "visa"
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "5555555555554444", "exp_month": 1, "exp_year": 2031, "cvc": "314"},
            "billing_details": {"name": "A"},
        }
    )
    assert pm.card.brand == "mastercard" and pm.billing_details.name == "A"
    with pytest.raises(stripe.CardError) as e:
        client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": "4242424242424241",
                    "exp_month": 1,
                    "exp_year": 2031,
                    "cvc": "314",
                },
            }
        )
    assert e.value.code == "incorrect_number"


def test_cancel_at_period_end_toggle_then_cancel(client, price):
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    client.v1.payment_intents.confirm(pi_id_of(sub), {"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert sub.cancel_at_period_end is True
    assert sub.cancel_at == sub["items"].data[0].current_period_end
    assert sub.cancellation_details.reason == "cancellation_requested"
    assert sub.status == "active"
    sub = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": False})
    assert sub.cancel_at_period_end is False and sub.cancel_at is None
    sub = client.v1.subscriptions.cancel(sub.id)
    assert sub.status == "canceled" and sub.ended_at
    listed = client.v1.subscriptions.list({"customer": cus.id, "status": "all"})
    assert [s.id for s in listed.data] == [sub.id]
    assert client.v1.subscriptions.list({"customer": cus.id}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})


def test_renew_and_failed_renewal(fake, client, price):
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    client.v1.payment_intents.confirm(pi_id_of(sub), {"payment_method": "pm_card_visa"})
    before = client.v1.subscriptions.retrieve(sub.id)
    period_end = before["items"].data[0].current_period_end
    fake.renew(sub.id)
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.status == "active"
    assert after["items"].data[0].current_period_start == period_end
    assert MONTH_MIN <= after["items"].data[0].current_period_end - period_end <= MONTH_MAX
    assert after.latest_invoice != before.latest_invoice
    renewal = client.v1.invoices.retrieve(after.latest_invoice)
    assert renewal.status == "paid" and renewal.billing_reason == "subscription_cycle"

    fake.fail_renewal(sub.id)
    failed = client.v1.subscriptions.retrieve(sub.id)
    assert failed.status == "past_due"
    assert client.v1.invoices.retrieve(failed.latest_invoice).status == "open"

    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    fake.renew(sub.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_expand_errors_and_unknown_urls(client, price):
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.prices.retrieve(price.id, {"expand": ["nonsense"]})
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        client.v1.customers.retrieve("cus_doesnotexist")


# -- idempotency and the request journal --------------------------------------------------------


def test_idempotency_replays_first_response(fake, client):
    key = "idem-" + uuid.uuid4().hex
    email = f"idem{uuid.uuid4().hex[:8]}@example.com"
    params = {"email": email, "name": "Idem", "metadata": {"user_id": "7"}}
    fake.clear_requests_log()
    first = client.v1.customers.create(params=params, options={"idempotency_key": key})
    second = client.v1.customers.create(params=params, options={"idempotency_key": key})
    assert first.id == second.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert [c.id for c in client.v1.customers.list({"email": email}).data] == [first.id]
    log = fake.requests_log()
    posts = [e for e in log if e["method"] == "POST" and e["path"] == "/v1/customers"]
    assert (
        posts
        == [{"method": "POST", "path": "/v1/customers", "idempotency_key": key, "status": 200}] * 2
    )
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(
            params={**params, "name": "Other"}, options={"idempotency_key": key}
        )


def test_idempotent_subscription_create_creates_one(fake, client, price):
    cus = new_customer(client)
    key = "sub-" + uuid.uuid4().hex
    params = {
        "customer": cus.id,
        "items": [{"price": price.id}],
        "payment_behavior": "default_incomplete",
        "expand": ["latest_invoice.confirmation_secret"],
    }
    a = client.v1.subscriptions.create(params=params, options={"idempotency_key": key})
    b = client.v1.subscriptions.create(params=params, options={"idempotency_key": key})
    assert a.id == b.id
    assert (
        a.latest_invoice.confirmation_secret.client_secret
        == b.latest_invoice.confirmation_secret.client_secret
    )
    assert len(client.v1.subscriptions.list({"customer": cus.id, "status": "all"}).data) == 1


def test_request_journal_counts(fake, client, price):
    fake.clear_requests_log()
    cus = new_customer(client)
    client.v1.customers.retrieve(cus.id)
    client.v1.prices.list(params={"lookup_keys": [price.lookup_key]})
    log = fake.requests_log()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/v1/customers", 200),
        ("GET", f"/v1/customers/{cus.id}", 200),
        ("GET", "/v1/prices", 200),
    ]
    assert log[0]["idempotency_key"]  # stripe-python sends one on every POST
    fake.clear_requests_log()
    assert fake.requests_log() == []


# -- events and webhooks ------------------------------------------------------------------------


def test_webhooks_signed_in_current_shape(fake, client, price, receiver):
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    client.v1.payment_intents.confirm(pi_id_of(sub), {"payment_method": "pm_card_visa"})
    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})

    def about(event_type, *, field="id"):
        def predicate(e):
            obj = e.data.object.to_dict()  # stripe-python 15 objects are not dicts
            target = (
                sub.id
                if field == "id"
                else obj.get("parent", {}) and obj["parent"]["subscription_details"]["subscription"]
            )
            return e.type == event_type and (
                obj.get("id") == sub.id if field == "id" else target == sub.id
            )

        return predicate

    created = receiver.wait_for(about("customer.subscription.created"))[0]
    assert created.api_version == stripe.api_version
    assert created.data.object.status == "incomplete"
    assert "current_period_end" in created.data.object["items"].data[0]
    paid = receiver.wait_for(about("invoice.paid", field="parent"))[0]
    assert paid.data.object.status == "paid"
    receiver.wait_for(about("invoice.payment_succeeded", field="parent"))
    updates = receiver.wait_for(
        lambda e: (
            about("customer.subscription.updated")(e) and e.data.object.cancel_at_period_end is True
        )
    )
    assert updates[0].data.previous_attributes.cancel_at_period_end is False
    activated = receiver.wait_for(
        lambda e: (
            about("customer.subscription.updated")(e)
            and e.data.to_dict().get("previous_attributes", {}).get("status") == "incomplete"
        )
    )
    assert activated[0].data.object.status == "active"
    order = [e.id for e in receiver.events()]
    assert order.index(created.id) < order.index(activated[0].id) < order.index(updates[0].id)
    # and the events are the API's own
    again = client.v1.events.retrieve(created.id)
    assert again.type == "customer.subscription.created"
    listed = client.v1.events.list({"type": "customer.subscription.updated", "limit": 100})
    assert updates[0].id in [e.id for e in listed.data]
    assert all(e.api_version == stripe.api_version for e in listed.data)


def test_webhook_signature_rejects_wrong_secret(receiver, client):
    new_customer(client)
    body, sig = receiver.wait_for(lambda e: e.type == "customer.created") and receiver.received[-1]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, sig, "whsec_wrong")
    assert sig.startswith("t=") and ",v1=" in sig


# -- browser path (publishable key) -------------------------------------------------------------


def _post_json(url, data):
    request = urllib.request.Request(
        url,
        data=json.dumps(data).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_publishable_key_paths_like_stripe_js(fake, client, price):
    with urllib.request.urlopen(fake.url + "/js.stripe.com/v3/") as r:
        js = r.read().decode()
    assert "createPaymentMethod" in js and "aria-label" in js
    status, pm = _post_json(
        fake.url + "/v1/payment_methods",
        {
            "key": fake.publishable_key,
            "type": "card",
            "card": {
                "number": "4242424242424242",
                "exp_month": "12",
                "exp_year": "2031",
                "cvc": "123",
            },
        },
    )
    assert status == 200 and pm["id"].startswith("pm_")
    status, body = _post_json(fake.url + "/v1/customers", {"key": fake.publishable_key})
    assert status == 401
    cus = new_customer(client)
    sub = create_sub(client, cus.id, price.id)
    secret = sub.latest_invoice.confirmation_secret.client_secret
    pi_id = secret.split("_secret_")[0]
    status, body = _post_json(
        fake.url + f"/v1/payment_intents/{pi_id}/confirm",
        {
            "key": fake.publishable_key,
            "client_secret": "pi_wrong_secret_x",
            "payment_method": pm["id"],
        },
    )
    assert status == 404
    status, body = _post_json(
        fake.url + f"/v1/payment_intents/{pi_id}/confirm",
        {
            "key": fake.publishable_key,
            "client_secret": secret,
            "payment_method": pm["id"],
            "use_stripe_sdk": True,
        },
    )
    assert status == 200 and body["status"] == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_port_is_free_after_stop(tmp_path):
    fs = FakeStripe(state_dir=str(tmp_path)).start()
    port = fs.port
    fs.stop()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_default_incomplete_prefills_the_default_payment_method(client, price):
    cus = new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = create_sub(client, cus.id, price.id, default_payment_method=pm.id)
    assert sub.status == "incomplete"
    pi = client.v1.payment_intents.retrieve(pi_id_of(sub))
    assert pi.status == "requires_confirmation" and pi.payment_method == pm.id
    assert client.v1.payment_intents.confirm(pi.id).status == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_webhook_endpoint_objects_receive_their_events(client):
    receiver = Receiver()
    try:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": receiver.url, "enabled_events": ["customer.updated"]}
        )
        receiver.secret = endpoint.secret
        cus = new_customer(client)
        client.v1.customers.update(cus.id, {"name": "Renamed"})
        event = receiver.wait_for(lambda e: e.data.object.id == cus.id)[0]
        assert event.type == "customer.updated"
        assert event.data.previous_attributes.name == "Test User"
        assert {e.type for e in receiver.events()} == {"customer.updated"}
        client.v1.webhook_endpoints.delete(endpoint.id)
        count = len(receiver.received)
        client.v1.customers.update(cus.id, {"name": "Again"})
        time.sleep(0.3)
        assert len(receiver.received) == count  # a deleted endpoint gets nothing
    finally:
        receiver.close()


def test_zz_no_internal_errors_in_the_server_log(fake):
    """Runs last: nothing above crashed inside the stand-in (no 500 api_error)."""
    assert "internal error" not in fake.log_tail(100000)


def test_product_features_list_is_empty_and_404s_for_unknown_products(client, price):
    """dj-stripe lists a product's entitlement features when it mirrors the product."""
    product_id = price.product if isinstance(price.product, str) else price.product.id
    assert client.v1.products.features.list(product_id).data == []
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.products.features.list("prod_missing")
    assert missing.value.http_status == 404


def test_a_key_parameter_must_be_publishable(fake, client, price):
    """A secret key is accepted only in the Authorization header: ``?key=sk_...`` (query) or a
    ``key=sk_...`` body cannot cancel a subscription or add a webhook endpoint (issue 12)."""
    cus = new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = create_sub(client, cus.id, price.id, default_payment_method=pm.id,
                     payment_behavior="allow_incomplete")  # fmt: skip
    assert sub.status == "active"
    secret = fake.secret_key

    request = urllib.request.Request(
        f"{fake.url}/v1/subscriptions/{sub.id}?key={secret}", method="DELETE"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 401
    assert "publishable key" in json.load(refused.value)["error"]["message"]
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"

    before = len(client.v1.webhook_endpoints.list().data)
    form = urllib.parse.urlencode({"key": secret, "url": "https://attacker.example/hook"})
    request = urllib.request.Request(
        f"{fake.url}/v1/webhook_endpoints", data=form.encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 401
    status, _ = _post_json(f"{fake.url}/v1/webhook_endpoints", {"key": secret, "url": "https://x"})
    assert status == 401
    assert len(client.v1.webhook_endpoints.list().data) == before
    # The same secret key in the header still works (the app's own calls).
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
