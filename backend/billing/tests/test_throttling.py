"""Rate limits of the billing endpoints that call Stripe, and the declined-card brake
(billing/throttling.py), over HTTP against the Stripe stand-in (issue 12, items 2 and 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing import throttling
from billing.tests.support import unique_user

CREATE = "/api/stripe/create-subscription/"
SYNC = "/api/stripe/subscription/sync/"
CANCEL = "/api/stripe/cancel-subscription/"
RESUME = "/api/stripe/resume-subscription/"


@pytest.fixture(autouse=True)
def fresh_counters(db: Any) -> Iterator[None]:
    """Throttle histories and the decline window live in the shared cache: start empty."""
    cache.clear()
    yield
    cache.clear()


def signed_in(user: Any, address: str = "198.51.100.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.force_login(user)
    return client


def stand_in_calls(fake: Any) -> list[dict]:
    return [r for r in fake.requests_log() if r["path"].startswith("/v1/")]


def assert_429(response: Any, code: str) -> int:
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["detail"]
    wait = int(response["Retry-After"])
    assert wait > 0
    return wait


def test_sync_cancel_and_resume_share_a_per_user_budget(stripe_ready, make_user, settings):
    """300 syncs in a row from one account no longer make 300 Stripe requests."""
    settings.BILLING_RATE_STRIPE_CALLS_USER = "4/hour"
    user = unique_user(make_user)
    client = signed_in(user)
    assert (
        client.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json").status_code == 201
    )
    stripe_ready.clear_requests_log()

    assert client.post(SYNC).status_code == 200
    assert client.post(SYNC).status_code == 200
    assert client.post(CANCEL, {}, format="json").status_code == 200
    assert client.post(RESUME).status_code == 200
    made = len(stand_in_calls(stripe_ready))
    assert made >= 4  # each of them called Stripe

    wait = assert_429(client.post(SYNC), "throttled")
    assert wait <= 3600
    assert_429(client.post(CANCEL, {"at_period_end": False}, format="json"), "throttled")
    assert_429(client.post(RESUME), "throttled")
    assert len(stand_in_calls(stripe_ready)) == made  # refused before any Stripe call
    assert client.get("/api/stripe/subscription/").json()["state"] == "active"  # reads are free

    # Another account keeps its own budget.
    other = signed_in(unique_user(make_user))
    assert other.post(SYNC).status_code == 200


def test_purchases_are_limited_per_address_across_accounts(stripe_ready, make_user, settings):
    settings.BILLING_RATE_PURCHASE_IP = "2/hour"
    first = signed_in(unique_user(make_user), "203.0.113.9")
    second = signed_in(unique_user(make_user), "203.0.113.9")
    elsewhere = signed_in(unique_user(make_user), "192.0.2.44")

    assert first.post(CREATE, {}, format="json").status_code == 201
    assert second.post(CREATE, {}, format="json").status_code == 201
    before = len(stand_in_calls(stripe_ready))
    assert_429(
        second.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json"), "throttled"
    )
    assert_429(
        signed_in(unique_user(make_user), "203.0.113.9").post(CREATE, {}, format="json"),
        "throttled",
    )
    assert len(stand_in_calls(stripe_ready)) == before
    assert elsewhere.post(CREATE, {}, format="json").status_code == 201


def test_purchases_stay_limited_per_user(stripe_ready, make_user, settings):
    settings.BILLING_RATE_PURCHASE_USER = "2/hour"
    user = unique_user(make_user)
    assert signed_in(user, "192.0.2.1").post(CREATE, {}, format="json").status_code == 201
    assert signed_in(user, "192.0.2.2").post(CREATE, {}, format="json").status_code == 200
    assert_429(signed_in(user, "192.0.2.3").post(CREATE, {}, format="json"), "throttled")


def test_many_declines_site_wide_pause_card_purchases_but_not_the_browser_flow(
    stripe_ready, make_user, settings
):
    settings.BILLING_DECLINE_BRAKE_LIMIT = 3
    settings.BILLING_DECLINE_BRAKE_MINUTES = 10
    for n in range(3):  # a card tester: three accounts, three addresses, three bad cards
        tester = signed_in(unique_user(make_user), f"192.0.2.{10 + n}")
        declined = tester.post(
            CREATE, {"payment_method_id": "pm_card_chargeDeclined"}, format="json"
        )
        assert declined.status_code == 402, declined.content
    assert throttling.declines_recent() == 3

    buyer = signed_in(unique_user(make_user), "198.51.100.99")
    before = len(stand_in_calls(stripe_ready))
    wait = assert_429(
        buyer.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json"),
        "purchases_paused",
    )
    assert 0 < wait <= 600
    assert len(stand_in_calls(stripe_ready)) == before  # no card reached Stripe
    # The website's flow is not paused: Stripe.js confirms the card with Stripe itself.
    browser = buyer.post(CREATE, {}, format="json")
    assert browser.status_code == 201, browser.content
    assert browser.json()["client_secret"]


def test_the_brake_releases_when_the_declines_leave_the_window(monkeypatch, settings):
    """The clock is the one thing moved by hand here (no stand-in can wait ten minutes)."""
    settings.BILLING_DECLINE_BRAKE_LIMIT = 2
    settings.BILLING_DECLINE_BRAKE_MINUTES = 10
    now = 1_900_000_020.0  # a minute boundary (31_666_667 minutes)
    monkeypatch.setattr(throttling.time, "time", lambda: now)
    throttling.decline_record()
    assert throttling.decline_brake_wait() == 0
    now += 120
    throttling.decline_record()
    assert throttling.decline_brake_wait() == 480  # the first decline leaves after 10 minutes
    now += 479
    assert throttling.decline_brake_wait() == 1
    now += 1
    assert throttling.decline_brake_wait() == 0
    assert throttling.declines_recent() == 1
