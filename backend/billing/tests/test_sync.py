"""Customer-level sync (billing.sync), and the nightly reconciliation it serves through
``manage.py sync_subscriptions`` (the beat task is in test_tasks.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from django.core.management import call_command
from django.db import transaction

from billing import stripe_client, sync
from billing.account_state import account_lock
from billing.models import BillingAccount
from billing.tests.support import (
    account_of,
    assert_matches_stripe,
    dashboard_subscription,
    linked_account,
    unique_user,
)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_subscriptions", *args, stdout=out)
    return out.getvalue()


# --- The sync itself ------------------------------------------------------------------------


def test_an_account_without_a_customer_asks_stripe_nothing(user):
    stripe_client.CALLS.clear()
    with transaction.atomic():
        result = sync.account_sync(account_lock(user))
    assert result.outcome == "no_customer" and result.changes == {}
    assert sum(stripe_client.CALLS.values()) == 0


def test_a_customer_stripe_does_not_know_is_gone(stripe_ready):
    result = sync.customer_sync(customer_id="cus_nowhere")
    assert result.outcome == "customer_gone"
    assert not BillingAccount.objects.exists()


def test_a_customer_named_by_stripe_is_adopted_and_synced(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)  # the customer says user_id
    result = sync.customer_sync(customer_id=sub.customer)
    assert result.outcome == "synced" and result.user_id == user.pk
    assert result.changes["stripe_status"] == ("", "active")
    assert account_of(user).stripe_customer_id == sub.customer
    assert_matches_stripe(stripe_ready, user)
    assert sync.customer_sync(customer_id=sub.customer).outcome == "unchanged"


def test_describe_says_what_changed():
    when = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    result = sync.SyncResult("cus_1", "synced", 1, 7, {"premium_until": (None, when)})
    said = result.describe()
    assert said == "cus_1 (user 7): synced: premium_until: None -> 2026-11-26T12:00:00Z"
    assert sync.SyncResult("cus_2", "no_account").describe() == "cus_2: no_account"


# --- The nightly reconciliation: manage.py sync_subscriptions --------------------------------


def test_dry_run_reports_drift_and_writes_nothing(stripe_ready, make_user):
    user, sub = linked_account(stripe_ready, make_user)
    output = run("--dry-run")
    assert sub.customer in output
    assert "stripe_status: 'active' -> 'canceled'" in output
    assert "would change" in output and "dry run" in output
    account = account_of(user)
    assert account.stripe_status == "active" and account.is_premium


def test_sync_fixes_drift_and_says_what_changed(stripe_ready, make_user):
    user, sub = linked_account(stripe_ready, make_user)
    output = run()
    assert "stripe_status: 'active' -> 'canceled'" in output
    assert "1 changed" in output
    assert not account_of(user).is_premium
    assert_matches_stripe(stripe_ready, user)
    # A second run finds nothing to change.
    assert f"{sub.customer} (" not in run(f"--customer={sub.customer}")


def test_accounts_without_a_customer_are_not_asked_about(stripe_ready, make_user):
    BillingAccount.objects.create(user=unique_user(make_user))
    assert "0 account(s) checked" in run()
