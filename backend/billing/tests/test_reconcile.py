"""Nightly reconciliation: `manage.py sync_subscriptions` and its beat task."""

from __future__ import annotations

import io
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from billing import tasks
from billing.models import BillingAccount
from billing.tests.test_tasks import (
    account_of,
    assert_matches_stripe,
    dashboard_subscription,
    stand_in,
    unique_user,
)


def linked_account(fake, make_user):
    """A user whose stored row says premium, while the stand-in has cancelled it (drift)."""
    user = unique_user(make_user)
    sub = dashboard_subscription(fake, user)
    BillingAccount.objects.create(
        user=user,
        stripe_customer_id=sub.customer,
        subscription_id=sub.id,
        stripe_status="active",
        premium_until=timezone.now() + timedelta(days=20),
    )
    stand_in(fake).v1.subscriptions.cancel(sub.id)  # the webhook never arrived
    return user, sub


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_subscriptions", *args, stdout=out)
    return out.getvalue()


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
    assert "1 changed" in output or "changed" in output
    assert not account_of(user).is_premium
    assert_matches_stripe(stripe_ready, user)
    # A second run finds nothing to change.
    assert f"{sub.customer} (" not in run(f"--customer={sub.customer}")


def test_reconcile_task_fixes_drift(stripe_ready, make_user):
    user, _ = linked_account(stripe_ready, make_user)
    summary = tasks.reconcile_subscriptions.apply().get()
    assert summary["changed"] >= 1 and summary["errors"] == 0
    assert not account_of(user).is_premium


def test_accounts_without_a_customer_are_not_asked_about(stripe_ready, make_user):
    BillingAccount.objects.create(user=unique_user(make_user))
    assert "0 account(s) checked" in run()
