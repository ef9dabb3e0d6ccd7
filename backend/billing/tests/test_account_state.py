"""The user's billing row (billing.account_state): the lock and what is stored on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing import account_state, entitlement
from billing.models import BillingAccount

FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def subscription(status: str = "active", *, end: datetime = FUTURE, **extra) -> dict:
    """A subscription of the current shape, as a plain dict (no ``object``: not mirrored)."""
    return {
        "id": "sub_1",
        "status": status,
        "items": {"data": [{"current_period_end": int(end.timestamp())}]},
        **extra,
    }


def test_lock_creates_the_row_once(user):
    with transaction.atomic():
        first = account_state.account_lock(user)
    with transaction.atomic():
        again = account_state.account_lock(user)
    assert first.pk == again.pk and BillingAccount.objects.filter(user=user).count() == 1


def test_lock_for_customer_finds_the_linked_account_only(user):
    with transaction.atomic():
        account = account_state.account_lock(user)
        assert account_state.account_lock_for_customer("cus_1") is None
        account_state.account_link_customer(account, "cus_1")
        assert account_state.account_lock_for_customer("cus_1").pk == account.pk


def test_apply_subscription_stores_the_entitlement(user):
    account = BillingAccount.objects.create(user=user)
    account_state.account_apply_subscription(account, subscription(cancel_at_period_end=True))
    account.refresh_from_db()
    assert account.subscription_id == "sub_1" and account.stripe_status == "active"
    assert account.current_period_end == FUTURE == account.premium_until
    assert account.cancel_at_period_end is True and account.is_premium
    assert account.synced_at is not None


def test_changes_name_the_tracked_columns_that_differ(user):
    account = BillingAccount.objects.create(user=user, subscription_id="sub_1")
    changes = account_state.account_changes(account, entitlement.snapshot(subscription("past_due")))
    assert set(changes) <= set(account_state.TRACKED)
    assert changes["stripe_status"] == ("", "past_due")
    assert "subscription_id" not in changes


def test_forget_customer_ends_premium_and_bumps_the_generation(user):
    account = BillingAccount.objects.create(
        user=user,
        stripe_customer_id="cus_1",
        subscription_id="sub_1",
        stripe_status="active",
        cancel_at_period_end=True,
        premium_until=timezone.now() + timedelta(days=3),
    )
    changes = account_state.account_forget_customer(account)
    assert account.stripe_customer_id is None and account.customer_generation == 1
    assert not account.is_premium and account.stripe_status == "canceled"
    assert changes["stripe_status"] == ("active", "canceled")
    assert changes["cancel_at_period_end"] == (True, False)
    assert changes["premium_until"][1] is None
