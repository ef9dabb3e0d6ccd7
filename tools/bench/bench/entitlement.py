"""Webhook → entitlement latency, measured against a running app and its Celery worker.

    python -m bench.entitlement URL SECRET OUT.json [--samples 40]

Runs in a Django process on the app's database (``DJANGO_SETTINGS_MODULE=bench.settings``
with the app's ``DATABASE_URL`` or ``VAR_DIR``, and ``STRIPE_API_HOST`` of its stand-in).
It makes a user with a paid subscription in the stand-in and lets the app link it (one
``customer.subscription.created``, not counted). Then, SAMPLES times: it flips the
subscription's ``cancel_at_period_end`` in the stand-in, waits a random 50-250 ms (so the
worker is idle and a polling broker is caught at a random moment), posts the signed
``customer.subscription.updated`` event to URL (the receiver), and watches the user's
``BillingAccount`` row until it shows the flip. The time from just before the POST to the
row showing it is one sample; the POST's own answer time is kept beside it. Writes
``{"latencies": [s, ...], "acks": [s, ...], "timeouts": n}`` to OUT.json.

The app must not get the stand-in's own webhooks meanwhile (they would race the posted
event): the caller unregisters them first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import django

from fakestripe.signing import sign

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from accounts.models import User  # noqa: E402
from bench.prepare import paid_subscription, stand_in  # noqa: E402
from billing.models import BillingAccount  # noqa: E402

POLL_SECONDS = 0.002
SAMPLE_TIMEOUT = 20.0


def event_body(event_type: str, subscription: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": "evt_latency_" + secrets.token_hex(8),
            "object": "event",
            "api_version": "2026-08-26.dahlia",
            "created": int(time.time()),
            "data": {"object": subscription, "previous_attributes": {}},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        },
        default=str,
    ).encode()


def post(url: str, body: bytes, secret: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(
            "POST",
            parts.path,
            body=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return True
        time.sleep(POLL_SECONDS)
    return False


def measure(url: str, secret: str, samples: int) -> dict[str, Any]:
    client = stand_in()
    token = secrets.token_hex(4)
    user = User.objects.create_user(
        username=f"latency-{token}", email=f"latency-{token}@example.com"
    )
    sub = paid_subscription(client, user)
    status = post(url, event_body("customer.subscription.created", sub.to_dict()), secret)
    if status != 200:
        raise SystemExit(f"the receiver answered {status} to a signed event")
    linked = BillingAccount.objects.filter(user=user, subscription_id=sub.id)
    if not wait_until(linked.exists, 60):
        raise SystemExit("the worker did not link the subscription within 60 s")
    row = BillingAccount.objects.filter(user=user)

    def shows(flipped: bool) -> bool:
        return row.values_list("cancel_at_period_end", flat=True).first() is flipped

    latencies: list[float] = []
    acks: list[float] = []
    timeouts = 0
    for n in range(samples):
        flipped = n % 2 == 0  # True, False, True, ...: each event changes the row
        body = event_body(
            "customer.subscription.updated",
            client.v1.subscriptions.update(
                sub.id, params={"cancel_at_period_end": flipped}
            ).to_dict(),
        )
        time.sleep(random.uniform(0.05, 0.25))  # a pause, not a secret
        start = time.perf_counter()
        status = post(url, body, secret)
        acks.append(time.perf_counter() - start)
        if status != 200:
            raise SystemExit(f"the receiver answered {status} to a signed event")
        shown = wait_until(lambda want=flipped: shows(want), SAMPLE_TIMEOUT)
        if shown:
            latencies.append(time.perf_counter() - start)
        else:
            timeouts += 1
    return {"latencies": latencies, "acks": acks, "timeouts": timeouts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the receiver, e.g. http://127.0.0.1:8000/api/stripe-webhooks/")
    parser.add_argument("secret", help="the webhook signing secret the app accepts")
    parser.add_argument("out", help="where to write the JSON result")
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    result = measure(args.url, args.secret, args.samples)
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
