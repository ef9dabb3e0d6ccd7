"""Stripe calls per purchase, counted in the stand-in's request journal.

    python -m bench.purchases STRIPE_URL OUT.json --webhook-delay SECONDS

Runs in a Django process on the app's database (``DJANGO_SETTINGS_MODULE=bench.settings``,
``DATABASE_URL``, ``STRIPE_API_HOST``), while the app's receiver and Celery worker run and
the stand-in delivers its webhooks to them, late (``--webhook-delay``: the bench starts the
stand-in so that no delivery overlaps a request). The purchase goes through the app's own
views, in this process (``django.test.Client``, signed in), as the browser does it:

1. ``POST /api/stripe/create-subscription/`` with ``{}``;
2. Stripe.js confirms the first invoice's PaymentIntent (a call the browser makes, counted
   apart: it is not ours);
3. ``POST /api/stripe/subscription/sync/``;
4. the stand-in's webhooks reach the receiver and the worker processes them.

Once as a new customer, then, after an immediate cancel (not counted), again as the same,
now returning, customer. The journal (``GET /_config/requests``: every ``/v1/`` call) is
read after each step once everything has settled. Writes ``{"new": {...}, "returning":
{...}}`` to OUT.json, each step a list of ``"METHOD /v1/path"`` lines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import urllib.request
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.test import Client  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.prepare import stand_in  # noqa: E402
from billing.models import WebhookEvent  # noqa: E402

Status = WebhookEvent.Status
SETTLE_TIMEOUT = 60.0
#: A path segment that is an object id: a prefix, an underscore, then letters and digits not
#: all lower case (`in_OvcACz...`; `payment_intents` is no id).
ID_SEGMENT = re.compile(r"/[a-z]+_(?=[a-z]*[A-Z0-9])[A-Za-z0-9]+")


class Journal:
    """The stand-in's ``/_config`` API: its request journal and its webhook deliveries."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def calls(self) -> list[str]:
        # Ids say nothing about the count: /v1/subscriptions/sub_1Abc -> /v1/subscriptions/{id}
        return [
            f"{r['method']} {ID_SEGMENT.sub('/{id}', r['path'])}"
            for r in self._get("/_config/requests")
        ]

    def deliveries_pending(self) -> bool:
        return any(d["status"] is None for d in self._get("/_config/deliveries"))


def settle(journal: Journal, quiet: float) -> None:
    """Until the journal has not grown for ``quiet`` seconds (longer than the stand-in waits
    before a delivery), nothing is being delivered and the inbox is worked off."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    seen, quiet_since = -1, time.monotonic()
    busy = WebhookEvent.objects.filter(status__in=[Status.RECEIVED, Status.PROCESSING])
    while time.monotonic() < deadline:
        count = len(journal.calls())
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        elif (
            time.monotonic() - quiet_since > quiet
            and not journal.deliveries_pending()
            and not busy.exists()
        ):
            return
        time.sleep(0.1)
    raise SystemExit("the stand-in and the worker did not settle within 60 s")


def buy(client: Client, journal: Journal, quiet: float) -> dict[str, list[str]]:
    """One purchase, step by step: the new journal lines of each step."""
    steps: dict[str, list[str]] = {}
    mark = len(journal.calls())

    def step(name: str) -> None:
        nonlocal mark
        calls = journal.calls()
        steps[name] = calls[mark:]
        mark = len(calls)

    answer = client.post("/api/stripe/create-subscription/", {}, content_type="application/json")
    if answer.status_code not in (200, 201):
        raise SystemExit(f"create-subscription answered {answer.status_code}: {answer.content!r}")
    step("create-subscription")
    intent = answer.json()["client_secret"].split("_secret_")[0]
    stand_in().v1.payment_intents.confirm(intent, params={"payment_method": "pm_card_visa"})
    step("Stripe.js confirm (the browser's)")
    synced = client.post("/api/stripe/subscription/sync/", content_type="application/json")
    if not synced.json().get("premium"):
        raise SystemExit(f"not premium after the sync: {synced.content!r}")
    step("subscription/sync")
    settle(journal, quiet)
    step("webhooks, by the worker")
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stripe_url")
    parser.add_argument("out")
    parser.add_argument("--webhook-delay", type=float, required=True, help="the stand-in's")
    args = parser.parse_args()
    quiet = args.webhook_delay + 0.5
    journal = Journal(args.stripe_url)
    user = User.objects.create_user(username="bench-buyer", email="buyer@example.com")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    settle(journal, quiet)
    result = {"new": buy(client, journal, quiet)}
    cancel = client.post(
        "/api/stripe/cancel-subscription/",
        {"at_period_end": False},
        content_type="application/json",
    )
    if cancel.status_code != 200:
        raise SystemExit(f"cancel answered {cancel.status_code}: {cancel.content!r}")
    settle(journal, quiet)
    result["returning"] = buy(client, journal, quiet)
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
