"""SetupIntents in the stand-in, driven with stripe-python 15 as an app saving a card would.

The browser half (``stripe.confirmSetup`` from the Payment Element) is in
``test_stripe_js_in_chromium.py``; here are the server calls and the publishable-key calls
Stripe.js makes (plain HTTP with ``key=pk_...``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import stripe

AUTH_FAILED = (
    "The latest attempt to set up the payment method has failed because authentication failed."
)


def new_customer(client):
    return client.v1.customers.create(params={"email": f"s{uuid.uuid4().hex[:8]}@example.com"})


def events_about(client, object_id: str) -> list[str]:
    """Types of the events about one object, oldest first."""
    events = client.v1.events.list(params={"limit": 100}).data
    return [e.type for e in reversed(events) if e.data.object.id == object_id]


def browser_call(fake, method: str, path: str, params: dict) -> tuple[int, dict]:
    """What Stripe.js sends: the publishable key in the body (or query), no secret key."""
    params = {"key": fake.publishable_key, **params}
    url = fake.url + path
    data = None
    if method == "GET":
        url += "?" + urllib.parse.urlencode(params)
    else:
        data = json.dumps(params).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_create_for_a_customer_in_the_current_shape(client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(
        params={
            "customer": cus.id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": {"purpose": "change_card"},
        }
    )
    assert seti.id.startswith("seti_") and seti.object == "setup_intent"
    assert seti.client_secret.startswith(seti.id + "_secret_")
    assert seti.status == "requires_payment_method"
    assert seti.customer == cus.id and seti.usage == "off_session"
    assert seti.payment_method_types == ["card"] and seti.automatic_payment_methods is None
    assert seti.payment_method is None and seti.last_setup_error is None
    assert seti.next_action is None and seti.latest_attempt is None
    assert seti.payment_method_options.card.request_three_d_secure == "automatic"
    assert seti.metadata.to_dict() == {"purpose": "change_card"}
    for field in ("cancellation_reason", "flow_directions", "mandate", "single_use_mandate"):
        assert field in seti and seti[field] is None
    assert client.v1.setup_intents.retrieve(seti.id).client_secret == seti.client_secret
    assert events_about(client, seti.id) == ["setup_intent.created"]


def test_automatic_payment_methods_by_default_and_not_with_types(client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(params={"customer": cus.id, "usage": "on_session"})
    assert seti.automatic_payment_methods.to_dict() == {
        "allow_redirects": "always",
        "enabled": True,
    }
    assert seti.usage == "on_session" and seti.payment_method_types == ["card"]
    explicit = client.v1.setup_intents.create(
        params={
            "customer": cus.id,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )
    assert explicit.automatic_payment_methods.allow_redirects == "never"
    with pytest.raises(stripe.InvalidRequestError) as both:
        client.v1.setup_intents.create(
            params={
                "customer": cus.id,
                "payment_method_types": ["card"],
                "automatic_payment_methods": {"enabled": True},
            }
        )
    assert "only specify one of these parameters" in str(both.value.user_message)


@pytest.mark.parametrize(
    ("params", "param", "status"),
    [
        ({"usage": "sometimes"}, "usage", 400),
        ({"payment_method_types": ["bitcoin"]}, "payment_method_types", 400),
        ({"automatic_payment_methods": {"allow_redirects": "never"}}, None, 400),
        ({"return_url": "https://example.com/back"}, "return_url", 400),
        ({"colour": "blue"}, "colour", 400),
        ({"customer": "cus_missing"}, None, 404),
    ],
)
def test_bad_create_parameters_are_refused_like_stripe(client, params, param, status):
    base = {} if "customer" in params else {"customer": new_customer(client).id}
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.setup_intents.create(params={**base, **params})
    assert error.value.http_status == status
    if param:
        assert error.value.param == param


def test_confirm_attaches_the_card_to_the_customer(client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(params={"customer": cus.id})
    done = client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_visa"})
    assert done.status == "succeeded" and done.next_action is None
    pm = client.v1.payment_methods.retrieve(done.payment_method)
    assert pm.customer == cus.id and pm.card.last4 == "4242"
    listed = client.v1.payment_methods.list({"customer": cus.id, "type": "card"}).data
    assert [p.id for p in listed] == [pm.id]
    assert events_about(client, seti.id) == ["setup_intent.created", "setup_intent.succeeded"]
    assert "payment_method.attached" in events_about(client, pm.id)
    # The saved card pays off-session, as a renewal charges it.
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pm.id,
            "off_session": True,
            "confirm": True,
        }
    )
    assert intent.status == "succeeded"


def test_confirm_again_after_success_is_refused(client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(
        params={"customer": cus.id, "payment_method": "pm_card_visa", "confirm": True}
    )
    assert seti.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_mastercard"})
    assert error.value.code == "setup_intent_unexpected_state"
    assert "already succeeded" in str(error.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as cancel:
        client.v1.setup_intents.cancel(seti.id)
    assert cancel.value.code == "setup_intent_unexpected_state"


def test_declined_card_then_another_card_on_the_same_setup_intent(client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(params={"customer": cus.id})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_chargeDeclined"})
    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    assert declined.value.user_message == "Your card was declined."
    body = declined.value.json_body["error"]
    assert body["setup_intent"]["id"] == seti.id
    assert body["setup_intent"]["status"] == "requires_payment_method"
    failed = client.v1.setup_intents.retrieve(seti.id)
    assert failed.status == "requires_payment_method" and failed.payment_method is None
    assert failed.last_setup_error.code == "card_declined"
    assert failed.last_setup_error.decline_code == "generic_decline"
    assert failed.last_setup_error.payment_method.card.last4 == "0002"
    assert client.v1.payment_methods.list({"customer": cus.id}).data == []

    done = client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_visa"})
    assert done.status == "succeeded" and done.last_setup_error is None
    assert events_about(client, seti.id) == [
        "setup_intent.created",
        "setup_intent.setup_failed",
        "setup_intent.succeeded",
    ]


def test_a_card_that_fails_only_when_charged_is_saved(client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(
        params={"customer": cus.id, "payment_method": "pm_card_chargeCustomerFail", "confirm": True}
    )
    assert seti.status == "succeeded"


def test_incorrect_card_number_is_recorded_on_the_setup_intent(fake, client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(params={"customer": cus.id})
    status, body = browser_call(
        fake,
        "POST",
        f"/v1/setup_intents/{seti.id}/confirm",
        {
            "client_secret": seti.client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": "4242424242424241", "exp_month": 12, "exp_year": 2040},
            },
        },
    )
    assert status == 402
    assert body["error"]["code"] == "incorrect_number"
    assert body["error"]["setup_intent"]["last_setup_error"]["code"] == "incorrect_number"


@pytest.mark.parametrize(
    ("success", "status"), [("true", "succeeded"), ("false", "requires_payment_method")]
)
def test_three_d_secure_on_setup(fake, client, success, status):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(params={"customer": cus.id})
    pending = client.v1.setup_intents.confirm(
        seti.id, {"payment_method": "pm_card_authenticationRequiredOnSetup"}
    )
    assert pending.status == "requires_action"
    assert pending.next_action.type == "use_stripe_sdk"
    if success == "true":
        code, body = browser_call(
            fake,
            "POST",
            f"/v1/setup_intents/{seti.id}/_authenticate?success=true",
            {"client_secret": seti.client_secret},
        )
        assert code == 200 and body["status"] == status
    else:  # the launcher's helper, as a backend test would answer the box
        assert fake.authenticate(seti.id, seti.client_secret, success=False)["status"] == status
    after = client.v1.setup_intents.retrieve(seti.id)
    attached = client.v1.payment_methods.list({"customer": cus.id}).data
    if success == "false":
        assert after.last_setup_error.code == "setup_intent_authentication_failure"
        assert after.last_setup_error.message == AUTH_FAILED
        assert after.payment_method is None and attached == []
        assert events_about(client, seti.id)[-1] == "setup_intent.setup_failed"
    else:
        assert after.last_setup_error is None
        assert [p.id for p in attached] == [after.payment_method]
        assert events_about(client, seti.id) == [
            "setup_intent.created",
            "setup_intent.requires_action",
            "setup_intent.succeeded",
        ]
    code, body = browser_call(
        fake,
        "POST",
        f"/v1/setup_intents/{seti.id}/_authenticate?success=true",
        {"client_secret": seti.client_secret},
    )
    assert code == 400 and body["error"]["code"] == "setup_intent_unexpected_state"


def test_publishable_key_needs_the_client_secret(fake, client):
    cus = new_customer(client)
    seti = client.v1.setup_intents.create(params={"customer": cus.id})
    path = f"/v1/setup_intents/{seti.id}"
    status, body = browser_call(fake, "GET", path, {"client_secret": seti.client_secret})
    assert status == 200 and body["id"] == seti.id and body["status"] == "requires_payment_method"
    for params in ({}, {"client_secret": seti.id + "_secret_wrong"}):
        status, body = browser_call(fake, "GET", path, params)
        assert status == 404 and body["error"]["code"] == "resource_missing"
        status, body = browser_call(
            fake, "POST", path + "/confirm", {**params, "payment_method": "pm_card_visa"}
        )
        assert status == 404
    # Only the server creates, updates, lists or cancels them.
    for method, url in (
        ("POST", "/v1/setup_intents"),
        ("POST", path),
        ("POST", path + "/cancel"),
        ("GET", "/v1/setup_intents"),
    ):
        params = {"client_secret": seti.client_secret}
        if url == "/v1/setup_intents" and method == "POST":
            params = {"customer": cus.id}
        status, body = browser_call(fake, method, url, params)
        assert status == 401, (method, url, body)
    assert client.v1.setup_intents.retrieve(seti.id).status == "requires_payment_method"

    status, body = browser_call(
        fake,
        "POST",
        path + "/confirm",
        {"client_secret": seti.client_secret, "payment_method": "pm_card_visa"},
    )
    assert status == 200 and body["status"] == "succeeded"


def test_a_card_of_another_customer_is_refused(client):
    owner = new_customer(client)
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": owner.id})
    seti = client.v1.setup_intents.create(params={"customer": new_customer(client).id})
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.setup_intents.confirm(seti.id, {"payment_method": pm.id})
    assert error.value.param == "payment_method"
    assert client.v1.setup_intents.retrieve(seti.id).status == "requires_payment_method"


def test_cancel_update_and_list(client):
    cus = new_customer(client)
    first = client.v1.setup_intents.create(params={"customer": cus.id})
    second = client.v1.setup_intents.create(params={"customer": cus.id})
    other = client.v1.setup_intents.create(params={"customer": new_customer(client).id})
    listed = client.v1.setup_intents.list({"customer": cus.id}).data
    assert [s.id for s in listed] == [second.id, first.id]
    assert other.id not in [s.id for s in listed]

    updated = client.v1.setup_intents.update(
        first.id, {"metadata": {"step": "2"}, "payment_method": "pm_card_visa"}
    )
    assert updated.metadata.to_dict() == {"step": "2"} and updated.status == "requires_confirmation"
    assert client.v1.setup_intents.confirm(first.id).status == "succeeded"
    by_card = client.v1.setup_intents.list({"payment_method": updated.payment_method}).data
    assert [s.id for s in by_card] == [first.id]

    with pytest.raises(stripe.InvalidRequestError) as bad_reason:
        client.v1.setup_intents.cancel(second.id, {"cancellation_reason": "bored"})
    assert bad_reason.value.param == "cancellation_reason"
    canceled = client.v1.setup_intents.cancel(
        second.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert events_about(client, second.id)[-1] == "setup_intent.canceled"
    with pytest.raises(stripe.InvalidRequestError) as after_cancel:
        client.v1.setup_intents.confirm(second.id, {"payment_method": "pm_card_visa"})
    assert "status of canceled" in str(after_cancel.value.user_message)


def test_zz_no_internal_errors_in_the_server_log(fake):
    """Runs last in this module: nothing above crashed inside the stand-in."""
    assert "internal error" not in fake.log_tail(100000)
