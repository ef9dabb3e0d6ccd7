"""The same-origin dev proxy to the Stripe stand-in (devtools/stripe_proxy.py)."""

from __future__ import annotations

import json

import pytest
from django.http import Http404

from devtools.stripe_proxy import stripe_proxy


def test_dev_proxy_forwards_to_stand_in(fake_stripe, settings, rf):
    fake = fake_stripe
    settings.DEVTOOLS_ALLOWED = True
    settings.STRIPE_API_HOST = fake.url
    response = stripe_proxy(rf.get("/js.stripe.com/v3/"), path="js.stripe.com/v3/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = json.dumps(
        {
            "key": fake.publishable_key,
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2032, "cvc": "123"},
        }
    )
    response = stripe_proxy(
        rf.post("/v1/payment_methods", data=body, content_type="application/json"),
        path="payment_methods",
    )
    assert response.status_code == 200 and json.loads(response.content)["card"]["last4"] == "4242"
    # the browser never gets the secret key's powers through the proxy
    response = stripe_proxy(
        rf.get("/v1/customers", HTTP_AUTHORIZATION="Bearer sk_test_xxxxxxxxxx"), path="customers"
    )
    assert response.status_code == 401
    settings.DEVTOOLS_ALLOWED = False
    with pytest.raises(Http404):
        stripe_proxy(rf.get("/v1/customers"), path="customers")
