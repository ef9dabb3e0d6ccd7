"""The Celery tasks (billing.tasks), run in this process (``task.apply``): no process boundary.

Objects are real ones of the stand-in, made the way Stripe's dashboard (or a lost API
answer) would leave them. What an event does is in test_events.py, the inbox's states in
test_inbox.py; the real worker process is in test_tasks_integration.py.
"""

from __future__ import annotations

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from billing import stripe_client, sync, tasks
from billing.account_state import TRACKED
from billing.models import WebhookEvent
from billing.tests.support import (
    account_of,
    dashboard_subscription,
    event_body,
    linked_account,
    process,
    store,
    unique_user,
)
from devstack.processes import free_port

Status = WebhookEvent.Status


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
    first = {f: getattr(account_of(user), f) for f in TRACKED}
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.RECEIVED)  # a replay
    assert process(event) == "done"
    assert {f: getattr(account_of(user), f) for f in TRACKED} == first


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


# --- The sweep ------------------------------------------------------------------------------


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


# --- The nightly reconciliation -------------------------------------------------------------


def test_reconcile_task_fixes_drift(stripe_ready, make_user):
    user, _ = linked_account(stripe_ready, make_user)
    summary = tasks.reconcile_subscriptions.apply().get()
    assert summary["changed"] >= 1 and summary["errors"] == 0
    assert not account_of(user).is_premium


def test_task_names_are_the_ones_queued_messages_and_beat_use():
    """Queued messages and the beat schedule name the tasks: the names never change."""
    assert tasks.process_webhook_event.name == "billing.process_webhook_event"
    assert tasks.sweep_webhook_events.name == "billing.sweep_webhook_events"
    assert tasks.reconcile_subscriptions.name == "billing.reconcile_subscriptions"
