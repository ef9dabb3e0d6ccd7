"""Billing e-mails through a real ``celery worker`` process on Redis, on the test database,
to a real SMTP server (aiosmtpd): the path production takes, with real waiting for the
backoff. Works on SQLite (the file test database) and on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from billing.models import BillingEmail
from billing.stripe_objects import object_id
from billing.tests.support import SECRET, Worker, app_broker, post_event, unique_user, wait_for
from fakestripe.testing import stripe_client as stand_in

Status = BillingEmail.Status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def webhook_secret() -> Iterator[None]:
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        yield


def paid_event(fake: Any, make_user: Any) -> tuple[Any, bytes]:
    """A user who bought Premium, and the stand-in's ``invoice.paid`` event of the purchase
    (the raw body Stripe would post)."""
    user = unique_user(make_user)
    client = APIClient()
    client.force_login(user)
    since = int(time.time()) - 1
    answer = client.post(
        "/api/stripe/create-subscription/", {"payment_method_id": "pm_card_visa"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    customer = stand_in(fake).v1.subscriptions.retrieve(answer.json()["subscription_id"]).customer
    time.sleep(0.05)
    page = stand_in(fake).v1.events.list(
        params={"limit": 100, "type": "invoice.paid", "created": {"gte": since}}
    )
    [event] = [
        e.to_dict() for e in page.data if object_id(e.data.object.customer) == customer
    ]  # fmt: skip
    return user, json.dumps(event, default=str).encode()


def mail_env(server: Any, **extra: str) -> dict[str, str]:
    return {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(server.port),
        "EMAIL_USE_TLS": "false",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        **extra,
    }


def test_a_receipt_through_the_real_worker_is_sent_once_however_often_it_is_delivered(
    own_redis, fake_stripe, stripe_ready, make_user, mail_server
):
    user, body = paid_event(stripe_ready, make_user)
    event_id = json.loads(body)["id"]
    with (
        app_broker(own_redis.url),
        Worker(broker=own_redis.url, fake=fake_stripe, extra_env=mail_env(mail_server)) as w,
    ):
        with ThreadPoolExecutor(max_workers=5) as pool:  # five copies at once
            answers = list(pool.map(lambda _: post_event(Client(), body).status_code, range(5)))
        assert answers == [200] * 5
        email = wait_for(
            lambda: BillingEmail.objects.filter(event_id=event_id, status=Status.SENT).first(),
            timeout=60,
        )
        assert post_event(Client(), body).json()["duplicate"] is True  # once more, after
        time.sleep(2)  # anything that would send twice has had its chance
        log = w.log()
    [message] = mail_server.messages()
    assert message["To"] == user.email and "$20.00" in message["Subject"]
    assert email.attempts == 1
    assert log.count("billing.send_billing_email[") >= 1 and "succeeded" in log


def test_a_mail_server_down_then_back_with_the_real_worker_and_its_backoff(
    own_redis, fake_stripe, stripe_ready, make_user, mail_server
):
    """Retries are the task's own (Celery retry with a countdown): 1 s, then 2 s, 4 s..."""
    _, body = paid_event(stripe_ready, make_user)
    event_id = json.loads(body)["id"]
    mail_server.stop()
    env = mail_env(mail_server, BILLING_EMAIL_RETRY_SECONDS="1")
    with (
        app_broker(own_redis.url),
        Worker(broker=own_redis.url, fake=fake_stripe, extra_env=env) as w,
    ):
        assert post_event(Client(), body).status_code == 200
        # Two attempts failed, the mail waits for the third (visible in the admin meanwhile).
        failing = wait_for(
            lambda: BillingEmail.objects.filter(
                event_id=event_id, attempts=2, status=Status.PENDING
            ).first(),
            timeout=60,
        )
        assert "ConnectionRefusedError" in failing.last_error
        mail_server.start()  # the same port again
        sent = wait_for(
            lambda: BillingEmail.objects.filter(event_id=event_id, status=Status.SENT).first(),
            timeout=60,
        )
        log = w.log()
    assert sent.attempts >= 3 and sent.last_error == ""
    assert "retry: Retry in 1s" in log and "retry: Retry in 2s" in log
    assert len(mail_server.messages()) == 1
