"""Inside Django, on the topology's database and stand-in: the customers the scenarios use, the
events around their subscriptions, and what the app made of it all.

Imported only after ``django.setup()`` (``chaos.run`` sets the topology's environment first).
"""

from __future__ import annotations

import json
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import stripe
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from billing import entitlement, services
from billing.models import BillingAccount, BillingEmail, WebhookEvent

Status = WebhookEvent.Status
T = TypeVar("T")
#: The worker's line for an event whose effect was committed (billing.tasks._event_finish):
#: "Stripe event <id> (<type>): <what changed>".
APPLIED = re.compile(r"Stripe event (\S+) \([^)]*\): ")
DUPLICATE_SHARE = 0.2


def database(call: Callable[[], T]) -> T:
    """``call()``, once more on a fresh connection if the database went away meanwhile (it
    was restarted: Django's connection is dead, the next one is fine)."""
    try:
        return call()
    except (OperationalError, InterfaceError):
        connection.close()
        return call()


def stand_in(url: str, key: str) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)


@dataclass
class Customer:
    """A user with a subscription made at Stripe (as in its dashboard), linked by metadata."""

    user_id: int
    customer_id: str
    subscription_id: str


def _user(prefix: str) -> User:
    token = secrets.token_hex(4)
    return User.objects.create_user(username=f"{prefix}-{token}", email=f"{prefix}-{token}@x.test")


def subscribe(client: stripe.StripeClient, user_id: int, customer_id: str) -> Any:
    """A paid Premium subscription for ``customer_id``, made at Stripe directly."""
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer_id})
    return client.v1.subscriptions.create(
        params={
            "customer": customer_id,
            "items": [{"price": services.price_get().id}],
            "default_payment_method": method.id,
            "payment_behavior": "allow_incomplete",
            "metadata": {"user_id": str(user_id)},
        }
    )


def customers_create(client: stripe.StripeClient, count: int) -> list[Customer]:
    made = []
    for _ in range(count):
        user = _user("chaos")
        customer = client.v1.customers.create(
            params={"email": user.email, "metadata": {"user_id": str(user.pk)}}
        )
        made.append(Customer(user.pk, customer.id, subscribe(client, user.pk, customer.id).id))
    return made


def buyers_create(count: int) -> list[tuple[int, str]]:
    """New users with an API access token each (the JWT a script would use)."""
    return [(user.pk, str(AccessToken.for_user(user))) for user in map(_user, ["buyer"] * count)]


def event_body(event_type: str, obj: dict[str, Any], event_id: str) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-08-26.dahlia",
            "created": int(time.time()),
            "data": {"object": obj, "previous_attributes": {}},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        },
        default=str,
    ).encode()


def subscriptions_change(
    client: stripe.StripeClient, customers: list[Customer], rng: random.Random
) -> list[tuple[str, dict[str, Any]]]:
    """Change each customer's subscription at Stripe, as people do in the dashboard; the
    ``(event type, object)`` of every state passed through, old ones included."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for customer in customers:
        sub = client.v1.subscriptions.retrieve(customer.subscription_id)
        seen.append(("customer.subscription.updated", sub.to_dict()))
        move = rng.randrange(3)
        if move == 0:  # cancel at the period's end, or take that back
            changed = client.v1.subscriptions.update(
                sub.id, params={"cancel_at_period_end": not sub.cancel_at_period_end}
            )
            seen.append(("customer.subscription.updated", changed.to_dict()))
        elif move == 1:  # cancel now, then buy again: a new subscription
            seen.append(
                ("customer.subscription.deleted", client.v1.subscriptions.cancel(sub.id).to_dict())
            )
            new = subscribe(client, customer.user_id, customer.customer_id)
            customer.subscription_id = new.id
            seen.append(("customer.subscription.created", new.to_dict()))
        else:  # twice, so that one update arrives after the other's newer state
            for flag in (not sub.cancel_at_period_end, sub.cancel_at_period_end):
                changed = client.v1.subscriptions.update(
                    sub.id, params={"cancel_at_period_end": flag}
                )
                seen.append(("customer.subscription.updated", changed.to_dict()))
    return seen


def burst_bodies(
    states: list[tuple[str, dict[str, Any]]], *, size: int, tag: str, rng: random.Random
) -> list[bytes]:
    """``size`` distinct signed-to-be events around ``states`` (each state several times,
    stale ones among them), plus :data:`DUPLICATE_SHARE` of them again, all shuffled: the
    order in which they arrive says nothing about the order of the changes."""
    bodies = [
        event_body(*states[i % len(states)], event_id=f"evt_chaos_{tag}_{i:05d}")
        for i in range(size)
    ]
    bodies += rng.sample(bodies, k=int(size * DUPLICATE_SHARE))
    rng.shuffle(bodies)
    return bodies


@dataclass
class InboxState:
    stored: int
    processed: int
    failed: int
    waiting: list[str]


def inbox_state(event_ids: Iterable[str]) -> InboxState:
    """Where the events with these ids are: stored at all, ended ``done``/``ignored``, or
    ``failed`` (given up); ``waiting``: not stored or not ended yet."""
    wanted = set(event_ids)
    rows = dict(
        database(
            lambda: list(WebhookEvent.objects.filter(pk__in=wanted).values_list("pk", "status"))
        )
    )
    processed = {pk for pk, status in rows.items() if status in (Status.DONE, Status.IGNORED)}
    failed = sum(1 for status in rows.values() if status == Status.FAILED)
    return InboxState(len(rows), len(processed), failed, sorted(wanted - processed))


def accounts_mismatched(client: stripe.StripeClient, user_ids: Iterable[int]) -> list[int]:
    """The users whose stored entitlement is not what Stripe's subscriptions give now."""
    wanted = set(user_ids)
    rows = database(lambda: list(BillingAccount.objects.filter(user_id__in=wanted)))
    accounts = {a.user_id: a for a in rows}
    wrong = [user_id for user_id in wanted if user_id not in accounts]
    for user_id, account in accounts.items():
        if not account.stripe_customer_id:
            wrong.append(user_id)
            continue
        subs = client.v1.subscriptions.list(
            params={"customer": account.stripe_customer_id, "status": "all", "limit": 100}
        ).data
        snap = entitlement.snapshot(entitlement.choose_subscription(list(subs)))
        stored = (
            account.subscription_id,
            account.stripe_status,
            account.cancel_at_period_end,
            account.premium_until,
        )
        if stored != (
            snap.subscription_id,
            snap.stripe_status,
            snap.cancel_at_period_end,
            snap.premium_until,
        ):
            wrong.append(user_id)
    return sorted(wrong)


def subscriptions_of(client: stripe.StripeClient, user_ids: Iterable[int]) -> dict[int, int]:
    """How many subscriptions each user's customer has at Stripe (0: no customer)."""
    wanted = set(user_ids)
    rows = database(
        lambda: list(
            BillingAccount.objects.filter(user_id__in=wanted).values_list(
                "user_id", "stripe_customer_id"
            )
        )
    )
    customers = dict(rows)
    counts = {}
    for user_id in wanted:
        customer_id = customers.get(user_id)
        if not customer_id:
            counts[user_id] = 0
            continue
        subs = client.v1.subscriptions.list(
            params={"customer": customer_id, "status": "all", "limit": 100}
        ).data
        counts[user_id] = len(subs)
    return counts


def claim_holders() -> list[int]:
    """Pids of the processes holding a ``processing`` claim now (billing.holders' format:
    ``<scope>/<pid>/<start time>``)."""
    held = database(
        lambda: list(
            WebhookEvent.objects.filter(status=Status.PROCESSING)
            .exclude(claimed_process="")
            .values_list("claimed_process", flat=True)
        )
    )
    return sorted({int(token.rsplit("/", 2)[1]) for token in held})


def emails_held(pids: Iterable[int]) -> set[str]:
    """The billing e-mails ``sending`` under one of these processes now, each as the local
    part of its Message-ID (``<event id>.<kind>``, billing.notifications.email_deliver)."""
    wanted = {str(pid) for pid in pids}
    held = database(
        lambda: list(
            BillingEmail.objects.filter(status=BillingEmail.Status.SENDING)
            .exclude(claimed_process="")
            .values_list("event_id", "kind", "claimed_process")
        )
    )
    # billing.holders' format: "<scope>/<pid>/<start time>".
    return {
        f"{event_id}.{kind}"
        for event_id, kind, process in held
        if process.count("/") >= 2 and process.rsplit("/", 2)[1] in wanted
    }


def emails_died_with(pid: int, held_before: set[str]) -> set[str]:
    """Right after ``pid`` was killed: the mails it died holding. Those still ``sending``
    under it, and those it held just before the kill unless it recorded them ``sent`` itself
    before dying (a mail it finished is never sent again, so a second copy of it is no resend
    but a bug). Local parts, as :func:`emails_held`."""
    died = emails_held([pid])
    if not held_before:
        return died
    pairs = [local.rsplit(".", 1) for local in held_before]
    match = Q()
    for event_id, kind in pairs:
        match |= Q(event_id=event_id, kind=kind)
    rows = database(
        lambda: list(
            BillingEmail.objects.filter(match).values_list(
                "event_id", "kind", "status", "claimed_process"
            )
        )
    )
    for event_id, kind, status, process in rows:
        finished = status == BillingEmail.Status.SENT and (
            process.count("/") >= 2 and process.rsplit("/", 2)[1] == str(pid)
        )
        if not finished:
            died.add(f"{event_id}.{kind}")
    return died


def claimed_again(event_ids: Iterable[str]) -> int:
    """How many of these events were claimed more than once (taken back after a crash, or
    released for a retry)."""
    wanted = set(event_ids)
    return database(lambda: WebhookEvent.objects.filter(pk__in=wanted, attempts__gt=1).count())


def emails_unsettled() -> int:
    """How many billing e-mails are still ``pending`` or ``sending``: until none is, a copy
    sent again (a claim taken back from a dead worker) may still arrive."""
    unsettled = (BillingEmail.Status.PENDING, BillingEmail.Status.SENDING)
    return database(lambda: BillingEmail.objects.filter(status__in=unsettled).count())


def applied_counts(worker_log: Path) -> Counter[str]:
    """How often each event's effect was committed, from the worker's log (all its runs)."""
    try:
        text = worker_log.read_text(errors="replace")
    except OSError:
        return Counter()
    return Counter(APPLIED.findall(text))
