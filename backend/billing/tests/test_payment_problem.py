"""The status object's ``payment_problem``: the rule (``entitlement.payment_problem``), where
it is stored (``account_state``) and when a sync reads it from Stripe (``sync``).

The end-to-end paths (webhooks, paying, a new card) are in test_self_service.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from billing import entitlement, stripe_client, sync
from billing.account_state import account_apply_payment_problem, account_lock
from billing.entitlement import PaymentProblem
from billing.models import BillingAccount
from billing.tests.support import account_of, dashboard_subscription, unique_user

PAST_DUE = {"id": "sub_1", "status": "past_due"}


def open_invoice(**fields):
    return {
        "id": "in_1", "status": "open", "amount_due": 2000, "currency": "usd",
        "attempted": True, "next_payment_attempt": 1_800_000_000, **fields,
    }  # fmt: skip


def intent(status, **fields):
    return {"id": "pi_1", "status": status, "last_payment_error": None, **fields}


# --- The rule --------------------------------------------------------------------------------


def test_a_refused_renewal_is_payment_failed_with_the_next_attempt():
    declined = intent("requires_payment_method", last_payment_error={"code": "card_declined"})
    problem = entitlement.payment_problem(PAST_DUE, open_invoice(), declined)
    assert problem == PaymentProblem(
        kind="payment_failed",
        invoice_id="in_1",
        amount_due=2000,
        currency="usd",
        next_attempt=datetime(2027, 1, 15, 8, tzinfo=UTC),
    )
    assert problem.as_dict()["next_attempt"] == "2027-01-15T08:00:00Z"


@pytest.mark.parametrize(
    "waiting",
    [
        intent("requires_action"),
        # Some banks decline an off-session charge for want of authentication instead.
        intent("requires_payment_method", last_payment_error={"code": "authentication_required"}),
        intent(
            "requires_payment_method",
            last_payment_error={"code": "card_declined", "decline_code": "authentication_required"},
        ),
    ],
)
def test_a_renewal_waiting_for_the_customer_is_action_required(waiting):
    problem = entitlement.payment_problem(
        PAST_DUE, open_invoice(next_payment_attempt=None), waiting
    )
    assert problem is not None and problem.kind == "action_required"
    assert problem.next_attempt is None


@pytest.mark.parametrize(
    ("subscription", "invoice", "payment"),
    [
        ({"status": "active"}, open_invoice(), intent("requires_payment_method")),
        ({"status": "incomplete"}, open_invoice(), intent("requires_payment_method")),
        ({"status": "canceled"}, open_invoice(), intent("requires_payment_method")),
        (PAST_DUE, open_invoice(status="paid"), intent("succeeded")),
        (PAST_DUE, open_invoice(status="void"), intent("canceled")),
        (PAST_DUE, None, None),
        (PAST_DUE, open_invoice(), intent("processing")),  # the bank is still on it
        (PAST_DUE, open_invoice(attempted=False), None),  # not tried yet
    ],
)
def test_no_problem(subscription, invoice, payment):
    assert entitlement.payment_problem(subscription, invoice, payment) is None


def test_unpaid_is_dunning_too_and_no_intent_after_an_attempt_is_a_failure():
    problem = entitlement.payment_problem({"status": "unpaid"}, open_invoice(), None)
    assert problem is not None and problem.kind == "payment_failed"


# --- Stored on the row ---------------------------------------------------------------------------

PROBLEM = PaymentProblem("payment_failed", "in_1", 2000, "usd", None)


def test_the_status_object_shows_what_is_stored(premium_user):
    account = BillingAccount.objects.get(user=premium_user)
    assert entitlement.status_object(account)["payment_problem"] is None
    assert account_apply_payment_problem(account, PROBLEM) is True
    assert account_apply_payment_problem(account, PROBLEM) is False  # nothing to write
    stored = entitlement.status_object(BillingAccount.objects.get(pk=account.pk))
    assert stored["payment_problem"] == {
        "kind": "payment_failed",
        "invoice_id": "in_1",
        "amount_due": 2000,
        "currency": "usd",
        "next_attempt": None,
    }


@pytest.mark.parametrize(
    ("subscription", "kept"),
    [
        ({"id": "sub_test", "status": "past_due"}, True),  # still in dunning: the sync decides
        ({"id": "sub_test", "status": "unpaid"}, True),
        ({"id": "sub_test", "status": "active"}, False),  # paid
        ({"id": "sub_test", "status": "canceled"}, False),  # ended
        ({"id": "sub_other", "status": "past_due"}, False),  # another subscription now
    ],
)
def test_applying_a_subscription_ends_a_problem_that_is_over(premium_user, subscription, kept):
    from billing.account_state import account_apply_subscription

    account = BillingAccount.objects.get(user=premium_user)
    account_apply_payment_problem(account, PROBLEM)
    account_apply_subscription(account, subscription)
    fresh = BillingAccount.objects.get(pk=account.pk)
    assert (fresh.payment_problem_kind == "payment_failed") is kept
    assert (fresh.payment_problem_invoice_id == "in_1") is kept


# --- Read by the sync ----------------------------------------------------------------------------


def test_a_healthy_subscription_costs_the_sync_no_invoice_call(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    BillingAccount.objects.create(user=user, stripe_customer_id=sub.customer)
    stripe_client.CALLS.clear()
    with transaction.atomic():
        sync.account_sync(account_lock(user))
    assert stripe_client.CALLS["invoices.retrieve"] == 0
    assert account_of(user).payment_problem_kind == ""


def test_a_failed_renewal_is_read_by_the_sync_with_one_call(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    BillingAccount.objects.create(user=user, stripe_customer_id=sub.customer)
    stripe_ready.fail_renewal(sub.id)
    stripe_client.CALLS.clear()
    with transaction.atomic():
        result = sync.account_sync(account_lock(user))
    assert stripe_client.CALLS["invoices.retrieve"] == 1
    assert result.changes["payment_problem"] == (None, "payment_failed")
    account = account_of(user)
    assert account.stripe_status == "past_due"
    assert account.payment_problem_kind == "payment_failed"
    assert account.payment_problem_amount_due == 2000


def test_a_dry_run_reports_the_problem_and_stores_nothing(stripe_ready, make_user):
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    BillingAccount.objects.create(user=user, stripe_customer_id=sub.customer)
    stripe_ready.fail_renewal(sub.id)
    result = sync.customer_sync(customer_id=sub.customer, dry_run=True)
    assert result.outcome == "would_change"
    assert result.changes["payment_problem"] == (None, "payment_failed")
    assert account_of(user).payment_problem_kind == ""
