"""The receiver, ``POST /api/stripe-webhooks/``: verify, store, enqueue, answer — nothing more.

No process boundary is crossed here: the enqueue is recorded (or, for the broker-down
case, sent to a real but dead Redis address). The worker and real brokers are in
``test_tasks_integration.py``.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
import stripe
from django.db import OperationalError
from django.test import Client, override_settings

from billing import stripe_client
from billing.models import WebhookEvent
from billing.tests.support import (
    OLD_SECRET,
    SECRET,
    URL,
    app_broker,
    event_body,
    post_event,
    sign,
)
from devstack.processes import free_port

SUBSCRIPTION = {
    "id": "sub_test_1",
    "object": "subscription",
    "customer": "cus_test_1",
    "status": "active",
    "metadata": {"user_id": "1"},
    "items": {"object": "list", "data": []},
}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("webhook_secrets"),
]


@pytest.fixture
def webhook_secrets():
    with override_settings(
        STRIPE_WEBHOOK_SECRET=f"{SECRET}, {OLD_SECRET}", STRIPE_WEBHOOK_TOLERANCE=300
    ):
        yield


@pytest.fixture
def client():
    """CSRF checks on, as for a browser: the receiver must not need a token."""
    return Client(enforce_csrf_checks=True)


def deliver(client, body, header=None, capture=None):
    if capture is None:
        return post_event(client, body, header)
    with capture(execute=True):
        return post_event(client, body, header)


# --- Accepted ---------------------------------------------------------------------------


def test_signed_event_is_stored_and_enqueued_on_commit(
    client, enqueued, django_capture_on_commit_callbacks
):
    body = event_body("customer.subscription.updated", SUBSCRIPTION, event_id="evt_ok_1")
    stripe_client.CALLS.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_event(client, body)
    assert response.status_code == 200
    assert response.json() == {"received": True, "id": "evt_ok_1", "status": "received"}
    assert enqueued == []  # only once the row is committed...
    for callback in callbacks:
        callback()
    assert enqueued == ["evt_ok_1"]  # ...and then exactly once
    row = WebhookEvent.objects.get(pk="evt_ok_1")
    assert row.type == "customer.subscription.updated"
    assert row.status == WebhookEvent.Status.RECEIVED
    assert row.payload == json.loads(body)
    assert row.api_version == "2026-08-26.dahlia"
    assert row.livemode is False
    assert row.created is not None and row.received_at is not None
    assert row.attempts == 0 and row.processed_at is None
    assert sum(stripe_client.CALLS.values()) == 0  # the request never calls Stripe


def test_duplicate_event_is_stored_once_and_enqueued_once(
    client, enqueued, django_capture_on_commit_callbacks
):
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}, event_id="evt_dup")
    first = deliver(client, body, capture=django_capture_on_commit_callbacks)
    # Stripe redelivers with a fresh signature timestamp.
    second = deliver(client, body, sign(body, timestamp=int(time.time()) + 1),
                     capture=django_capture_on_commit_callbacks)  # fmt: skip
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert WebhookEvent.objects.filter(pk="evt_dup").count() == 1
    assert enqueued == ["evt_dup"]


def test_unknown_type_is_stored_as_ignored_and_not_enqueued(
    client, enqueued, django_capture_on_commit_callbacks
):
    body = event_body("charge.refunded", {"id": "ch_1", "object": "charge"}, event_id="evt_unk")
    response = deliver(client, body, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert WebhookEvent.objects.get(pk="evt_unk").status == WebhookEvent.Status.IGNORED
    assert enqueued == []


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_both_secrets_are_accepted_during_a_rotation(
    client, enqueued, secret, django_capture_on_commit_callbacks
):
    body = event_body("customer.subscription.created", SUBSCRIPTION)
    response = deliver(client, body, sign(body, secret), capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert len(enqueued) == 1


def test_after_the_rotation_the_old_secret_is_refused(client, enqueued):
    body = event_body("customer.subscription.created", SUBSCRIPTION)
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        response = post_event(client, body, sign(body, OLD_SECRET))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()


def test_small_clock_skew_into_the_future_is_accepted(client, enqueued):
    body = event_body("customer.subscription.created", SUBSCRIPTION)
    response = post_event(client, body, sign(body, timestamp=int(time.time()) + 120))
    assert response.status_code == 200


# --- Refused: 400, nothing stored ---------------------------------------------------------


def _refused(response, code):
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert not WebhookEvent.objects.exists()


def test_missing_signature_header_is_400(client, enqueued):
    _refused(post_event(client, event_body("invoice.paid", {"id": "in_1"}), ""),
             "missing_signature")  # fmt: skip
    assert enqueued == []


def test_forged_signature_is_400(client, enqueued):
    body = event_body("invoice.paid", {"id": "in_1"})
    _refused(post_event(client, body, sign(body, "whsec_someone_else")), "invalid_signature")


def test_garbage_signature_header_is_400(client, enqueued):
    body = event_body("invoice.paid", {"id": "in_1"})
    _refused(post_event(client, body, "t=abc,v1=zz"), "invalid_signature")
    _refused(post_event(client, body, "nonsense"), "invalid_signature")


def test_tampered_body_is_400(client, enqueued):
    body = event_body("customer.subscription.updated", SUBSCRIPTION)
    header = sign(body)
    tampered = body.replace(b'"active"', b'"trialing"')
    assert tampered != body
    _refused(post_event(client, tampered, header), "invalid_signature")


def test_stale_timestamp_is_400(client, enqueued):
    body = event_body("invoice.paid", {"id": "in_1"})
    _refused(post_event(client, body, sign(body, timestamp=int(time.time()) - 301)),
             "timestamp_out_of_tolerance")  # fmt: skip


def test_future_timestamp_beyond_the_tolerance_is_400(client, enqueued):
    """stripe-python bounds only the past; we bound both sides (see billing.webhooks)."""
    body = event_body("invoice.paid", {"id": "in_1"})
    header = sign(body, timestamp=int(time.time()) + 3600)
    assert stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=300)
    _refused(post_event(client, body, header), "timestamp_out_of_tolerance")


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b'{"id": "evt_1", "type": "invoice.paid"', b"[1, 2, 3]",
     b'{"object": "event", "data": {"object": {}}}', b'"a string"'],
)  # fmt: skip
def test_unparsable_or_not_an_event_body_is_400(client, enqueued, body):
    _refused(post_event(client, body, sign(body)), "invalid_payload")


def test_non_utf8_body_is_400(client, enqueued):
    body = b"\xff\xfe{}"
    header = f"t={int(time.time())},v1={'0' * 64}"
    _refused(post_event(client, body, header), "invalid_payload")


def test_sign_helper_matches_stripe_python():
    """support.sign is fakestripe's signature: what stripe-python itself makes."""
    body = event_body("invoice.paid", {"id": "in_1"})
    ts = int(time.time())
    expected = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, ts)
    assert sign(body, SECRET, ts) == expected


# --- Storage and broker failures ---------------------------------------------------------


def test_cannot_store_is_503_so_stripe_retries(client, enqueued, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(WebhookEvent.objects, "get_or_create", broken)
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"})
    response = post_event(client, body)
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert enqueued == []


def test_broker_down_still_answers_200_fast_and_keeps_the_event(
    client, caplog, django_capture_on_commit_callbacks
):
    """A real publish to a Redis address nobody listens on: fails fast, logged, stored."""
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}, event_id="evt_nobroker")
    with app_broker(f"redis://127.0.0.1:{free_port()}/0"), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        response = deliver(client, body, capture=django_capture_on_commit_callbacks)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 5, elapsed
    assert WebhookEvent.objects.get(pk="evt_nobroker").status == WebhookEvent.Status.RECEIVED
    assert "not enqueued" in caplog.text


def test_get_is_not_allowed(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"
