"""Bench set-up inside the bench's Django (``DJANGO_SETTINGS_MODULE=bench.settings``).

    python -m bench.prepare OUT.json SUBSCRIPTIONS

Creates SUBSCRIPTIONS paid subscriptions in the stand-in (real objects, so that dj-stripe's
synchronous processing finds them) and dj-stripe's webhook endpoint row, and writes
``{"djstripe_uuid", "djstripe_secret", "subscriptions": [subscription, ...]}`` to OUT.json;
the bench builds its events around these subscriptions. ``paid_subscription`` and
``stand_in`` serve the other helpers too.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

import stripe  # noqa: E402
from django.conf import settings  # noqa: E402
from djstripe.models import WebhookEndpoint  # noqa: E402

from accounts.models import User  # noqa: E402
from billing import services  # noqa: E402

DJSTRIPE_SECRET = "whsec_bench_djstripe_0123456789abcdef"


def stand_in() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_HOST_OVERRIDE}
    )


def paid_subscription(client: stripe.StripeClient, user: User) -> stripe.Subscription:
    """A paid Premium subscription for ``user``, made in the stand-in as in Stripe's dashboard."""
    customer = client.v1.customers.create(
        params={"email": user.email, "metadata": {"user_id": str(user.pk)}}
    )
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    return client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": services.price_get().id}],
            "default_payment_method": method.id,
            "metadata": {"user_id": str(user.pk)},
        }
    )


def setup(out: str, subscriptions: int) -> None:
    client = stand_in()
    objects = []
    for n in range(subscriptions):
        user = User.objects.create_user(username=f"bench{n}", email=f"bench{n}@example.com")
        objects.append(paid_subscription(client, user).to_dict())
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
    with open(out, "w") as f:
        json.dump(
            {
                "djstripe_uuid": str(endpoint.djstripe_uuid),
                "djstripe_secret": DJSTRIPE_SECRET,
                "subscriptions": objects,
            },
            f,
            default=str,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("subscriptions", type=int)
    args = parser.parse_args()
    setup(args.out, args.subscriptions)


if __name__ == "__main__":
    main()
