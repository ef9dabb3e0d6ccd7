"""The Django admin of billing (billing.admin): the webhook inbox and its Replay action."""

from __future__ import annotations

from django.utils import timezone

from billing.models import WebhookEvent
from billing.tests.support import event_body, store

Status = WebhookEvent.Status


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


def test_a_staff_edit_of_premium_until_is_logged(admin_client, admin_user, make_user, caplog):
    """Granting Premium by hand bypasses Stripe: who, whose, from what to what (issue 12)."""
    from billing.models import BillingAccount

    member = make_user()
    account = BillingAccount.objects.create(user=member, stripe_status="canceled")
    form = {
        "user": member.pk,
        "stripe_customer_id": "",
        "customer_generation": 0,
        "subscription_id": "",
        "stripe_status": "canceled",
        "current_period_end_0": "",
        "current_period_end_1": "",
        "premium_until_0": "2031-01-31",
        "premium_until_1": "12:00:00",
        "last_purchase_fingerprint": "",
        "last_purchase_at_0": "",
        "last_purchase_at_1": "",
    }
    url = f"/admin/billing/billingaccount/{account.pk}/change/"
    with caplog.at_level("WARNING", logger="billing.admin"):
        response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[-2000:]
    account.refresh_from_db()
    assert account.premium_until is not None and account.premium_until.year == 2031
    (record,) = [r for r in caplog.records if r.name == "billing.admin"]
    assert record.staff_user_id == admin_user.pk
    assert record.account_user_id == member.pk
    assert record.premium_until_before == "None"
    assert record.premium_until_after.startswith("2031-01-31 12:00:00")

    # Saving without touching premium_until logs nothing.
    caplog.clear()
    form["stripe_status"] = "active"
    with caplog.at_level("WARNING", logger="billing.admin"):
        assert admin_client.post(url, form).status_code == 302
    assert [r for r in caplog.records if r.name == "billing.admin"] == []
