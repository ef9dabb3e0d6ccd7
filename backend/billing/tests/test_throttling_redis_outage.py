"""What the billing rate limits do while Redis (the cache that counts them) is down
(billing/throttling.py): the Stripe-call budgets fail open, a purchase and a card change
answer 503 ``rate_limit_unavailable`` (the card-testing brake is never off), no 500.

A real redis-server is the cache here; it is SIGKILLed and started again on the same port,
as in quotas/tests/test_redis_outage.py. Stripe is the stand-in, over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from billing.tests.support import unique_user
from devstack.processes import RedisServer, ServiceMissing

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CREATE = "/api/stripe/create-subscription/"
SYNC = "/api/stripe/subscription/sync/"
CARD = "/api/stripe/payment-method/"
INVOICES = "/api/stripe/invoices/"


@pytest.fixture
def redis_cache(settings) -> Iterator[RedisServer]:
    """A Redis of this test's own as the default cache (the counters of the throttles)."""
    try:
        server = RedisServer(appendonly=True).start()
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }
    try:
        yield server
    finally:
        server.close()


def stripe_calls(fake: Any) -> list[dict]:
    return [r for r in fake.requests_log() if r["path"].startswith("/v1/")]


def test_money_paths_answer_503_and_the_stripe_budgets_fail_open_while_redis_is_down(
    redis_cache, stripe_ready, make_user, caplog
):
    user = unique_user(make_user)
    client = APIClient(REMOTE_ADDR="198.51.100.9")
    client.force_login(user)
    bought = client.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json")
    assert bought.status_code == 201, bought.content

    redis_cache.kill()
    stripe_ready.clear_requests_log()
    caplog.set_level(logging.WARNING, logger="billing.throttling")
    for path, body in ((CREATE, {"payment_method_id": "pm_card_visa"}), (CREATE, {}),
                       (CARD, {"payment_method_id": "pm_card_mastercard"})):  # fmt: skip
        refused = client.post(path, body, format="json")
        assert refused.status_code == 503, (path, refused.content)
        assert refused["Content-Type"].startswith("application/json")
        assert refused.json()["code"] == "rate_limit_unavailable"
        assert "try again" in refused.json()["detail"]
    assert stripe_calls(stripe_ready) == []  # refused before any card reached Stripe

    # Reads and the other Stripe calls go ahead, uncounted.
    assert client.post(SYNC).status_code == 200
    assert client.get(CARD).status_code == 200
    assert client.get(INVOICES).status_code == 200
    warnings = [r for r in caplog.records if "cache is down" in r.getMessage()]
    assert len(warnings) == 6  # one per request, none an error
    # No traceback, no 500 (Django's own line for each 503 is the only ERROR).
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(r.name == "django.request" and "Unavailable" in r.getMessage() for r in errors)
    assert not [r for r in caplog.records if r.exc_info]

    redis_cache.start()  # counted and braked again
    changed = client.post(CARD, {"payment_method_id": "pm_card_mastercard"}, format="json")
    assert changed.status_code == 200, changed.content
