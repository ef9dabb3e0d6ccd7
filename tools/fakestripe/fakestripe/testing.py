"""Helpers for tests that use the stand-in (plain functions: each test module makes fixtures)."""

from __future__ import annotations

import uuid

import stripe

from .launcher import FakeStripe


def stripe_client(fs: FakeStripe) -> stripe.StripeClient:
    """stripe-python's client pointed at the stand-in, as the app configures it (no retries)."""
    return stripe.StripeClient(fs.secret_key, base_addresses={"api": fs.url}, max_network_retries=0)


def premium_price(client: stripe.StripeClient, amount: int = 1500):
    """A Product and its monthly Price with a unique lookup key."""
    product = client.v1.products.create(params={"name": "Premium", "metadata": {"tier": "p"}})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": amount,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": "premium_monthly_" + uuid.uuid4().hex,
            "metadata": {"plan": "premium"},
        }
    )
