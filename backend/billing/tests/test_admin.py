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
