"""Event → effect (billing.events): which types are handled and what each one does.

Objects are real ones of the stand-in; the events carry them, and whatever the order of
the events the stored row must end in the state the stand-in has (the handlers re-read
Stripe through billing.sync). The task around this (claim, retries) is in test_tasks.py.
"""

from __future__ import annotations

from billing import events, stripe_client
from billing.models import BillingAccount
from billing.sync import SyncResult
from billing.tests.support import (
    account_of,
    assert_matches_stripe,
    dashboard_subscription,
    event_body,
    store,
    unique_user,
)
from fakestripe.testing import stripe_client as stand_in


def apply(body: bytes) -> SyncResult | None:
    """Store the event as the receiver would and apply it."""
    return events.event_apply(store(body))


# --- The table ---------------------------------------------------------------------------


def test_the_handled_types():
    handled = {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "customer.deleted",
        "subscription_schedule.created",
        "subscription_schedule.updated",
        "subscription_schedule.released",
        "subscription_schedule.canceled",
        "subscription_schedule.completed",
    }
    assert handled == events.HANDLED_TYPES
    assert set(events.HANDLERS) == events.HANDLED_TYPES


def test_an_unhandled_type_does_nothing(db):
    stripe_client.CALLS.clear()
    assert apply(event_body("charge.refunded", {"id": "ch_1", "object": "charge"})) is None
    assert sum(stripe_client.CALLS.values()) == 0


def test_an_event_without_a_customer_asks_stripe_nothing(db):
    stripe_client.CALLS.clear()
    result = apply(event_body("invoice.paid", {"id": "in_1", "customer": None}))
    assert result is not None and result.outcome == "no_customer"
    assert sum(stripe_client.CALLS.values()) == 0


def test_an_invoice_carries_its_subscriptions_user_to_adopt_the_customer(stripe_ready, make_user):
    """A customer made without our metadata (a lost answer, the dashboard): the invoice's
    ``parent.subscription_details.metadata.user_id`` says whose it is."""
    user = unique_user(make_user)
    customer = stand_in(stripe_ready).v1.customers.create(params={"email": user.email})
    invoice = {
        "id": "in_unknown_to_the_stand_in",
        "object": "invoice",
        "customer": {"id": customer.id, "object": "customer"},  # expanded: the id is read
        "parent": {"subscription_details": {"metadata": {"user_id": str(user.pk)}}},
    }
    result = apply(event_body("invoice.paid", invoice))
    assert result is not None and result.customer_id == customer.id
    assert account_of(user).stripe_customer_id == customer.id
    assert stripe_client.CALLS["invoices.retrieve"] == 1  # mirrored (best effort)


# --- Out of order: the end state is the stand-in's -------------------------------------------


def test_deleted_before_created_ends_cancelled(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    created = event_body("customer.subscription.created", sub)
    cancelled = stand_in(stripe_ready).v1.subscriptions.cancel(sub.id)
    deleted = event_body("customer.subscription.deleted", cancelled)
    for body in (deleted, created):  # the late "created" arrives last
        apply(body)
    account = account_of(user)
    assert account.stripe_status == "canceled" and not account.is_premium
    assert_matches_stripe(stripe_ready, user)


def test_invoice_paid_before_subscription_created_ends_premium(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    invoice = stand_in(stripe_ready).v1.invoices.retrieve(
        sub.latest_invoice if isinstance(sub.latest_invoice, str) else sub.latest_invoice.id
    )
    assert apply(event_body("invoice.paid", invoice)).outcome == "synced"
    assert account_of(user).is_premium  # before the subscription event arrived
    incomplete = {**sub.to_dict(), "status": "incomplete"}  # what "created" said back then
    apply(event_body("customer.subscription.created", incomplete))
    assert account_of(user).is_premium
    assert_matches_stripe(stripe_ready, user)


def test_two_updates_reversed_end_in_the_latest_state(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    client = stand_in(stripe_ready)
    first = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    second = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    for obj in (second, first):  # delivered in reverse
        apply(event_body("customer.subscription.updated", obj))
    account = account_of(user)
    assert account.cancel_at_period_end is False and account.is_premium
    assert_matches_stripe(stripe_ready, user)


def test_customer_deleted_clears_the_customer_and_ends_premium(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    apply(event_body("customer.subscription.created", sub))
    account = account_of(user)
    assert account.is_premium
    generation = account.customer_generation
    deleted = stand_in(stripe_ready).v1.customers.delete(sub.customer)
    result = apply(event_body("customer.deleted", {**deleted.to_dict(), "object": "customer"}))
    assert result is not None and result.outcome == "customer_deleted"
    account.refresh_from_db()
    assert account.stripe_customer_id is None
    assert account.customer_generation == generation + 1
    assert not account.is_premium
    # A late subscription event of the deleted customer does not bring it back.
    assert apply(event_body("customer.subscription.updated", sub)).outcome == "customer_gone"
    account.refresh_from_db()
    assert account.stripe_customer_id is None and not account.is_premium


def test_event_of_an_unknown_customer_changes_nothing(stripe_ready):
    customer = stand_in(stripe_ready).v1.customers.create(params={"email": "x@example.com"})
    result = apply(event_body("invoice.paid", {"id": "in_1", "customer": customer.id}))
    assert result is not None and result.outcome == "no_account"
    assert not BillingAccount.objects.filter(stripe_customer_id=customer.id).exists()
