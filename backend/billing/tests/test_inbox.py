"""The webhook inbox's states (billing.inbox): claim, done/ignored/failed, release, due, replay."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.test import override_settings
from django.utils import timezone

from billing import inbox
from billing.models import WebhookEvent
from billing.tests.support import event_body, store

Status = WebhookEvent.Status


def an_event() -> WebhookEvent:
    return store(event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}))


def reread(event: WebhookEvent) -> WebhookEvent:
    return WebhookEvent.objects.get(pk=event.pk)


# --- The claim ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_claims_take_the_event_once():
    event = an_event()
    barrier = threading.Barrier(10)
    won: list[Any] = []

    def claim():
        try:
            barrier.wait()
            won.append(inbox.inbox_claim(event.pk))
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
    event = an_event()
    assert inbox.inbox_claim(event.pk) is not None
    assert inbox.inbox_claim(event.pk) is None  # fresh claim: someone is on it
    later = timezone.now() + timedelta(hours=1)
    assert inbox.inbox_claim(event.pk, now=later) is not None


def test_an_ended_or_unknown_event_cannot_be_claimed(db):
    event = an_event()
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.DONE)
    assert inbox.inbox_claim(event.pk) is None
    assert inbox.inbox_claim("evt_nowhere") is None


# --- Ending a claim -----------------------------------------------------------------------


@pytest.mark.parametrize(("ignored", "status"), [(False, Status.DONE), (True, Status.IGNORED)])
def test_done_or_ignored_ends_the_event(db, ignored, status):
    claimed = inbox.inbox_claim(an_event().pk)
    assert claimed is not None
    inbox.inbox_done(claimed, ignored=ignored)
    row = reread(claimed)
    assert row.status == status and row.processed_at is not None and row.last_error == ""


def test_failed_keeps_the_error(db):
    claimed = inbox.inbox_claim(an_event().pk)
    assert claimed is not None
    inbox.inbox_failed(claimed, ValueError("a bug"))
    row = reread(claimed)
    assert row.status == Status.FAILED and row.processed_at is not None
    assert row.last_error == "ValueError: a bug"


def test_release_puts_it_back_for_the_retry(db):
    claimed = inbox.inbox_claim(an_event().pk)
    assert claimed is not None
    inbox.inbox_release(claimed, ConnectionError("Stripe is away"))
    row = reread(claimed)
    assert row.status == Status.RECEIVED and row.processed_at is None
    assert "ConnectionError" in row.last_error
    again = inbox.inbox_claim(claimed.pk)
    assert again is not None and again.attempts == 2


def test_only_a_claimed_event_is_ended(db):
    """Ending what is not ``processing`` (a replay reset it meanwhile) changes nothing."""
    event = an_event()
    inbox.inbox_done(event)
    assert reread(event).status == Status.RECEIVED and reread(event).processed_at is None


# --- Due and replay -------------------------------------------------------------------------


@override_settings(BILLING_WEBHOOK_SWEEP_AFTER=timedelta(minutes=5), BILLING_WEBHOOK_MAX_ATTEMPTS=3)
def test_due_takes_waiting_events_once_and_gives_up_on_the_hopeless(db):
    waiting, hopeless = an_event(), store(event_body("invoice.paid", {"id": "in_2"}))
    WebhookEvent.objects.filter(pk=hopeless.pk).update(attempts=3)
    assert inbox.inbox_due() == []  # not waiting long enough yet
    later = timezone.now() + timedelta(minutes=6)
    assert inbox.inbox_due(now=later) == [waiting.pk]
    assert inbox.inbox_due(now=later) == []  # touched: not due again at once
    assert reread(waiting).status == Status.RECEIVED
    assert reread(hopeless).status == Status.FAILED
    assert "gave up after 3 attempts" in reread(hopeless).last_error


def test_replay_resets_any_event(db):
    event = an_event()
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=Status.FAILED, attempts=9, last_error="boom", processed_at=timezone.now()
    )
    assert inbox.inbox_replay([event.pk]) == [event.pk]
    row = reread(event)
    assert row.status == Status.RECEIVED and row.attempts == 0
    assert row.last_error == "" and row.processed_at is None
