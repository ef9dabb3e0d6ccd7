"""The worker's logic, run in this process (``task.apply``): no process boundary here.

Objects are real ones of the stand-in, made the way Stripe's dashboard (or a lost API
answer) would leave them; the events carry them, and the worker must end in the state the
stand-in has whatever the order. The real worker process is in test_tasks_integration.py.
"""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.test import override_settings
from django.utils import timezone

from billing import entitlement, services, stripe_client, sync, tasks
from billing.models import BillingAccount, WebhookEvent
from billing.tests.test_webhooks_support import event_body, stand_in

Status = WebhookEvent.Status


def unique_user(make_user) -> Any:
    """A user with an id no other test used: the stand-in keeps customers across tests and
    the app's idempotency keys contain the user id."""
    return make_user(id=secrets.randbelow(10**9) + 10**6)


def store(body: bytes) -> WebhookEvent:
    """What the receiver stores (its own tests cover the receiving)."""
    import json

    payload = json.loads(body)
    return WebhookEvent.objects.create(
        id=payload["id"], type=payload["type"], payload=payload, api_version="x"
    )


def process(event: WebhookEvent) -> str:
    return tasks.process_webhook_event.apply(args=[event.pk]).get()


def dashboard_customer(fake, user) -> Any:
    return stand_in(fake).v1.customers.create(
        params={"email": user.email, "metadata": {"user_id": str(user.pk)}}
    )


def dashboard_subscription(fake, user, customer=None, pm="pm_card_visa") -> Any:
    """A paid subscription made directly in the stand-in, as in Stripe's dashboard."""
    client = stand_in(fake)
    customer = customer or dashboard_customer(fake, user)
    method = client.v1.payment_methods.attach(pm, params={"customer": customer.id})
    return client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": services.price_get().id}],
            "default_payment_method": method.id,
            "payment_behavior": "allow_incomplete",
            "metadata": {"user_id": str(user.pk)},
        }
    )


def account_of(user) -> BillingAccount:
    return BillingAccount.objects.get(user=user)


def assert_matches_stripe(fake, user) -> None:
    """The stored row equals what choose_subscription picks from the stand-in now."""
    account = account_of(user)
    subs = list(
        stand_in(fake)
        .v1.subscriptions.list(params={"customer": account.stripe_customer_id, "status": "all"})
        .data
    )
    snap = entitlement.snapshot(entitlement.choose_subscription(subs))
    assert account.subscription_id == snap.subscription_id
    assert account.stripe_status == snap.stripe_status
    assert account.cancel_at_period_end == snap.cancel_at_period_end
    assert account.premium_until == snap.premium_until


# --- Processing --------------------------------------------------------------------------


def test_subscription_event_links_the_customer_and_grants_premium(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    assert sub.status == "active"
    event = store(event_body("customer.subscription.created", sub))
    assert process(event) == "done"
    account = account_of(user)
    assert account.stripe_customer_id == sub.customer
    assert account.is_premium and account.subscription_id == sub.id
    event.refresh_from_db()
    assert event.status == Status.DONE and event.attempts == 1 and event.processed_at


def test_done_event_is_not_processed_again(stripe_ready, make_user):
    user = unique_user(make_user)
    event = store(
        event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    )
    assert process(event) == "done"
    stripe_client.CALLS.clear()
    assert process(event) == "skipped"
    assert sum(stripe_client.CALLS.values()) == 0
    event.refresh_from_db()
    assert event.attempts == 1


def test_processing_twice_changes_nothing(stripe_ready, make_user):
    user = unique_user(make_user)
    event = store(
        event_body(
            "invoice.paid",
            {"id": "in_x", "customer": dashboard_subscription(stripe_ready, user).customer},
        )
    )
    process(event)
    first = {f: getattr(account_of(user), f) for f in sync.TRACKED}
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.RECEIVED)  # a replay
    assert process(event) == "done"
    assert {f: getattr(account_of(user), f) for f in sync.TRACKED} == first


# --- Out of order: the end state is the stand-in's -------------------------------------------


def test_deleted_before_created_ends_cancelled(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    created = event_body("customer.subscription.created", sub)
    cancelled = stand_in(stripe_ready).v1.subscriptions.cancel(sub.id)
    deleted = event_body("customer.subscription.deleted", cancelled)
    for body in (deleted, created):  # the late "created" arrives last
        process(store(body))
    account = account_of(user)
    assert account.stripe_status == "canceled" and not account.is_premium
    assert_matches_stripe(stripe_ready, user)


def test_invoice_paid_before_subscription_created_ends_premium(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    invoice = stand_in(stripe_ready).v1.invoices.retrieve(
        sub.latest_invoice if isinstance(sub.latest_invoice, str) else sub.latest_invoice.id
    )
    assert process(store(event_body("invoice.paid", invoice))) == "done"
    assert account_of(user).is_premium  # before the subscription event arrived
    incomplete = {**sub.to_dict(), "status": "incomplete"}  # what "created" said back then
    process(store(event_body("customer.subscription.created", incomplete)))
    assert account_of(user).is_premium
    assert_matches_stripe(stripe_ready, user)


def test_two_updates_reversed_end_in_the_latest_state(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    client = stand_in(stripe_ready)
    first = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    second = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    for obj in (second, first):  # delivered in reverse
        process(store(event_body("customer.subscription.updated", obj)))
    account = account_of(user)
    assert account.cancel_at_period_end is False and account.is_premium
    assert_matches_stripe(stripe_ready, user)


def test_customer_deleted_clears_the_customer_and_ends_premium(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    process(store(event_body("customer.subscription.created", sub)))
    account = account_of(user)
    assert account.is_premium
    generation = account.customer_generation
    deleted = stand_in(stripe_ready).v1.customers.delete(sub.customer)
    assert (
        process(store(event_body("customer.deleted", {**deleted.to_dict(), "object": "customer"})))
        == "done"
    )
    account.refresh_from_db()
    assert account.stripe_customer_id is None
    assert account.customer_generation == generation + 1
    assert not account.is_premium
    # A late subscription event of the deleted customer does not bring it back.
    process(store(event_body("customer.subscription.updated", sub)))
    account.refresh_from_db()
    assert account.stripe_customer_id is None and not account.is_premium


def test_event_of_an_unknown_customer_is_done_without_change(stripe_ready):
    customer = stand_in(stripe_ready).v1.customers.create(params={"email": "x@example.com"})
    event = store(event_body("invoice.paid", {"id": "in_1", "customer": customer.id}))
    assert process(event) == "done"
    assert not BillingAccount.objects.filter(stripe_customer_id=customer.id).exists()


def test_replayed_ignored_type_ends_ignored(db):
    event = store(event_body("charge.refunded", {"id": "ch_1", "object": "charge"}))
    assert process(event) == "ignored"
    event.refresh_from_db()
    assert event.status == Status.IGNORED


# --- Failures and retries -------------------------------------------------------------


def test_stripe_unreachable_is_retried_with_backoff_then_failed(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    event = store(event_body("customer.subscription.created", sub))
    from devstack.processes import free_port

    with override_settings(STRIPE_API_HOST_OVERRIDE=f"http://127.0.0.1:{free_port()}"):
        result = tasks.process_webhook_event.apply(args=[event.pk])
    assert result.get() == "failed"
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert event.attempts == tasks.MAX_RETRIES + 1
    assert "APIConnectionError" in event.last_error
    task = tasks.process_webhook_event
    assert task.retry_backoff and task.max_retries == tasks.MAX_RETRIES
    assert set(tasks.RETRYABLE) <= set(task.autoretry_for)


def test_a_non_transient_error_fails_at_once(stripe_ready, monkeypatch, db):
    def boom(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(sync, "customer_sync", boom)
    event = store(event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}))
    assert process(event) == "failed"
    event.refresh_from_db()
    assert event.status == Status.FAILED and event.attempts == 1
    assert "ValueError: a bug" in event.last_error


# --- The claim ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_claims_take_the_event_once():
    event = store(event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}))
    barrier = threading.Barrier(10)
    won: list[Any] = []

    def claim():
        try:
            barrier.wait()
            won.append(sync.inbox_claim(event.pk))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 10
    assert sum(1 for w in won if w is not None) == 1
    event.refresh_from_db()
    assert event.status == Status.PROCESSING and event.attempts == 1


def test_a_stale_claim_can_be_taken_over(db):
    event = store(event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}))
    assert sync.inbox_claim(event.pk) is not None
    assert sync.inbox_claim(event.pk) is None  # fresh claim: someone is on it
    later = timezone.now() + timedelta(hours=1)
    assert sync.inbox_claim(event.pk, now=later) is not None


# --- The sweep and the Replay action ---------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(tasks.process_webhook_event, "apply_async",
                        lambda args=None, **kw: sent.append(args[0]))  # fmt: skip
    return sent


def test_sweep_re_enqueues_events_whose_task_was_lost(db, enqueued):
    old = timezone.now() - timedelta(hours=2)
    lost = store(event_body("invoice.paid", {"id": "in_1", "customer": "c"}))
    stuck = store(event_body("invoice.paid", {"id": "in_2", "customer": "c"}))
    fresh = store(event_body("invoice.paid", {"id": "in_3", "customer": "c"}))
    done = store(event_body("invoice.paid", {"id": "in_4", "customer": "c"}))
    hopeless = store(event_body("invoice.paid", {"id": "in_5", "customer": "c"}))
    WebhookEvent.objects.filter(pk=lost.pk).update(status_changed_at=old)
    WebhookEvent.objects.filter(pk=stuck.pk).update(status=Status.PROCESSING, status_changed_at=old)
    WebhookEvent.objects.filter(pk=done.pk).update(status=Status.DONE, status_changed_at=old)
    WebhookEvent.objects.filter(pk=hopeless.pk).update(status_changed_at=old, attempts=99)

    assert tasks.sweep_webhook_events.apply().get() == 2
    assert sorted(enqueued) == sorted([lost.pk, stuck.pk])
    assert WebhookEvent.objects.get(pk=stuck.pk).status == Status.RECEIVED
    assert WebhookEvent.objects.get(pk=hopeless.pk).status == Status.FAILED
    assert WebhookEvent.objects.get(pk=fresh.pk).status == Status.RECEIVED
    # Touched: the next sweep does not send them again at once.
    assert tasks.sweep_webhook_events.apply().get() == 0


def test_admin_replay_resets_and_re_enqueues(
    admin_client, enqueued, django_capture_on_commit_callbacks
):
    event = store(event_body("invoice.paid", {"id": "in_1", "customer": "c"}))
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=Status.FAILED, attempts=9, last_error="boom", processed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/billing/webhookevent/",
            {"action": "replay", "_selected_action": [event.pk]},
            follow=True,
        )
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.status == Status.RECEIVED and event.attempts == 0 and not event.last_error
    assert enqueued == [event.pk]
    listing = admin_client.get("/admin/billing/webhookevent/?status__exact=received")
    assert listing.status_code == 200 and event.pk.encode() in listing.content
