"""Bench set-up inside the bench's Django: dj-stripe's endpoint row and the events to send.

    python -m bench.prepare OUT.json COUNT SUBSCRIPTIONS

Creates SUBSCRIPTIONS paid subscriptions in the stand-in (real objects, so that dj-stripe's
synchronous processing and our worker find them), then COUNT ``customer.subscription.updated``
events about them with distinct ids, and writes ``{"djstripe_uuid", "djstripe_secret",
"events": [body, ...]}`` to OUT.json.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

import stripe  # noqa: E402
from django.conf import settings  # noqa: E402
from djstripe.models import WebhookEndpoint  # noqa: E402

from accounts.models import User  # noqa: E402
from billing import services  # noqa: E402

DJSTRIPE_SECRET = "whsec_bench_djstripe_0123456789abcdef"


def main(out: str, count: int, subscriptions: int) -> None:
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_HOST_OVERRIDE}
    )
    price = services.price_get().id
    objects = []
    for n in range(subscriptions):
        user = User.objects.create_user(username=f"bench{n}", email=f"bench{n}@example.com")
        customer = client.v1.customers.create(
            params={"email": user.email, "metadata": {"user_id": str(user.pk)}}
        )
        method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
        sub = client.v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": [{"price": price}],
                "default_payment_method": method.id,
                "metadata": {"user_id": str(user.pk)},
            }
        )
        objects.append(sub.to_dict())
    endpoint = WebhookEndpoint.objects.create(
        id="we_bench_" + secrets.token_hex(6),
        livemode=False,
        api_version="2026-08-26.dahlia",
        enabled_events=["*"],
        secret=DJSTRIPE_SECRET,
        status="enabled",
        url="http://127.0.0.1/djstripe/webhook/",
        stripe_data={},
    )
    now = int(time.time())
    events = [
        json.dumps(
            {
                "id": f"evt_bench_{i:06d}_{secrets.token_hex(4)}",
                "object": "event",
                "api_version": "2026-08-26.dahlia",
                "created": now,
                "data": {"object": objects[i % len(objects)], "previous_attributes": {}},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": "customer.subscription.updated",
            },
            default=str,
        )
        for i in range(count)
    ]
    with open(out, "w") as f:
        json.dump(
            {
                "djstripe_uuid": str(endpoint.djstripe_uuid),
                "djstripe_secret": DJSTRIPE_SECRET,
                "events": events,
            },
            f,
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
