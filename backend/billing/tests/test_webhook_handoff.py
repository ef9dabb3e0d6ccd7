"""The hand-off from the receiver to the workers (billing.tasks): the wake-up mark in the
broker's Redis, the drain that works the inbox off, and the inbox's waiting list.

Real Redis servers (a fresh one per test where the test counts messages), the real stand-in
for the events' effects, and at the end a real ``celery worker`` process fed by the
receiver. The receiver's own side is in ``test_webhooks.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.test import Client, override_settings
from django.utils import timezone

from billing import inbox, tasks
from billing.models import BillingAccount, WebhookEvent
from billing.tests.support import (
    SECRET,
    Worker,
    app_broker,
    dashboard_subscription,
    event_body,
    event_id_of,
    post_event,
    store,
    unique_user,
    wait_for,
)
from devstack.processes import RedisServer, free_port

Status = WebhookEvent.Status


def queued(server: RedisServer) -> list[tuple[str, str]]:
    """The Celery messages waiting in a broker's default queue: (task name, its args)."""
    client = redis.Redis.from_url(server.url)
    messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    return sorted((m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages)


def mark(server: RedisServer) -> str | None:
    value = redis.Redis.from_url(server.url).get(tasks.WAKE_KEY)
    return value.decode() if value is not None else None


@pytest.fixture
def broker(own_redis: RedisServer) -> Iterator[RedisServer]:
    """This process publishes to a Redis of the test's own (nothing else reads it)."""
    with app_broker(own_redis.url):
        yield own_redis


# --- The wake-up ------------------------------------------------------------------------------


def test_a_wake_up_is_one_message_while_the_mark_stands(broker):
    assert tasks.webhook_inbox_wake("evt_1") is True
    assert tasks.webhook_inbox_wake("evt_2") is True
    assert tasks.webhook_inbox_wake("evt_3") is True
    assert queued(broker) == [("billing.drain_webhook_inbox", "()")]
    assert mark(broker) == "evt_1"
    ttl = redis.Redis.from_url(broker.url).pttl(tasks.WAKE_KEY)
    assert 0 < ttl <= tasks.WAKE_TTL_MS  # a lost drain holds back wake-ups only so long


def test_once_a_drain_cleared_the_mark_the_next_event_wakes_again(broker, db):
    tasks.webhook_inbox_wake("evt_1")
    assert tasks.drain_webhook_inbox.apply().get() == 0  # runs here: clears the mark first
    assert mark(broker) is None
    tasks.webhook_inbox_wake("evt_2")
    assert queued(broker) == [("billing.drain_webhook_inbox", "()")] * 2


def test_a_dead_broker_is_reported_not_raised_and_waking_works_once_it_is_back(caplog, db):
    server = RedisServer().start()
    try:
        with app_broker(server.url):
            server.stop()
            assert tasks.webhook_inbox_wake("evt_lost") is False
            assert "evt_lost stored but not enqueued" in caplog.text
            server.start()  # same port: the broker is back
            assert mark(server) is None
            assert tasks.webhook_inbox_wake("evt_next") is True
            assert queued(server) == [("billing.drain_webhook_inbox", "()")]
    finally:
        server.close()


def test_without_redis_each_event_gets_its_own_message(tmp_path, db):
    """``make run``'s filesystem broker has nowhere to keep a mark."""
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),  # kombu's default: ./control
    }
    with app_broker("filesystem://", options):
        assert tasks.webhook_inbox_wake("evt_a") and tasks.webhook_inbox_wake("evt_b")
    tasks_sent = [json.loads(p.read_text())["headers"] for p in folder.iterdir()]
    assert sorted((h["task"], h["argsrepr"]) for h in tasks_sent) == [
        ("billing.process_webhook_event", "('evt_a',)"),
        ("billing.process_webhook_event", "('evt_b',)"),
    ]


# --- The inbox's waiting list -----------------------------------------------------------------


def test_waiting_is_the_never_tried_and_the_abandoned_oldest_first(db):
    now = timezone.now()
    first, second, released, done, taken, abandoned = (
        store(event_body("invoice.paid", {"id": f"in_{n}", "customer": "c"})) for n in range(6)
    )
    WebhookEvent.objects.filter(pk=first.pk).update(received_at=now - timedelta(minutes=2))
    WebhookEvent.objects.filter(pk=second.pk).update(received_at=now - timedelta(minutes=1))
    WebhookEvent.objects.filter(pk=released.pk).update(attempts=1)  # its task retries it
    WebhookEvent.objects.filter(pk=done.pk).update(status=Status.DONE)
    WebhookEvent.objects.filter(pk=taken.pk).update(
        status=Status.PROCESSING, status_changed_at=now, attempts=1
    )
    WebhookEvent.objects.filter(pk=abandoned.pk).update(
        status=Status.PROCESSING, status_changed_at=now - timedelta(hours=1), attempts=1,
        received_at=now,
    )  # fmt: skip
    assert inbox.inbox_waiting(limit=10) == [first.pk, second.pk, abandoned.pk]
    assert inbox.inbox_waiting(limit=1) == [first.pk]


# --- The drain --------------------------------------------------------------------------------


def test_a_drain_processes_every_waiting_event_once(stripe_ready, make_user, broker):
    users = [unique_user(make_user) for _ in range(3)]
    events = [
        store(event_body("customer.subscription.created", dashboard_subscription(stripe_ready, u)))
        for u in users
    ]
    tasks.webhook_inbox_wake(events[0].pk)
    assert tasks.drain_webhook_inbox.apply().get() == 3
    for event in events:
        event.refresh_from_db()
        assert event.status == Status.DONE and event.attempts == 1
    assert all(BillingAccount.objects.get(user=u).is_premium for u in users)
    assert mark(broker) is None
    assert tasks.drain_webhook_inbox.apply().get() == 0  # nothing left, nothing done twice


def test_an_event_stored_while_the_mark_stands_is_found_by_the_drain(stripe_ready, make_user,
                                                                    broker):  # fmt: skip
    """The race the protocol closes: the mark was set by an earlier event, so this one
    published nothing; the drain that clears the mark still finds it."""
    early = store(event_body("charge.refunded", {"id": "ch_1", "object": "charge"}))
    tasks.webhook_inbox_wake(early.pk)
    user = unique_user(make_user)
    late = store(
        event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    )
    assert tasks.webhook_inbox_wake(late.pk) is True  # the mark stands: no second message
    assert len(queued(broker)) == 1
    tasks.drain_webhook_inbox.apply().get()
    late.refresh_from_db()
    assert late.status == Status.DONE
    assert BillingAccount.objects.get(user=user).is_premium


def test_a_transient_failure_is_released_to_its_own_task(stripe_ready, make_user, broker):
    user = unique_user(make_user)
    event = store(
        event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    )
    with override_settings(STRIPE_API_HOST_OVERRIDE=f"http://127.0.0.1:{free_port()}"):
        assert tasks.drain_webhook_inbox.apply().get() == 1
    event.refresh_from_db()
    assert event.status == Status.RECEIVED and event.attempts == 1
    assert "APIConnectionError" in event.last_error
    # Handed to the per-event task, which retries with backoff; the next drain leaves it.
    assert queued(broker) == [("billing.process_webhook_event", f"('{event.pk}',)")]
    message = json.loads(redis.Redis.from_url(broker.url).lindex("celery", 0))
    assert message["headers"]["eta"] is not None
    assert tasks.drain_webhook_inbox.apply().get() == 0


def test_a_failing_event_does_not_stop_the_drain(stripe_ready, make_user, broker, monkeypatch):
    user = unique_user(make_user)
    good = store(
        event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    )
    bad = store(event_body("invoice.paid", {"id": "in_1", "customer": "cus_x"}))
    original = tasks.events.event_apply

    def event_apply(event: Any) -> Any:
        if event.pk == bad.pk:
            raise ValueError("a bug")
        return original(event)

    monkeypatch.setattr(tasks.events, "event_apply", event_apply)  # a bug no stand-in can make
    assert tasks.drain_webhook_inbox.apply().get() == 2
    assert WebhookEvent.objects.get(pk=bad.pk).status == Status.FAILED
    assert WebhookEvent.objects.get(pk=good.pk).status == Status.DONE


def test_a_long_drain_hands_over_to_a_fresh_one(broker, monkeypatch, db):
    """No drain holds its message for long: past DRAIN_SECONDS it publishes its successor."""
    for n in range(3):
        store(event_body("charge.refunded", {"id": f"ch_{n}", "object": "charge"}))
    monkeypatch.setattr(tasks, "DRAIN_SECONDS", 0.0)
    monkeypatch.setattr(tasks, "DRAIN_BATCH", 2)
    assert tasks.drain_webhook_inbox.apply().get() == 2
    assert queued(broker) == [("billing.drain_webhook_inbox", "()")]
    assert tasks.drain_webhook_inbox.apply().get() == 1


# --- End to end: the receiver, Redis, a real worker -------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_burst_through_a_real_worker_is_a_handful_of_messages(
    own_redis, fake_stripe, stripe_ready, make_user
):
    """Twenty deliveries of twenty customers, four at a time, to a worker of two processes (as
    in production): all processed once, carried by a few drain messages instead of twenty
    task messages."""
    from concurrent.futures import ThreadPoolExecutor

    users = [unique_user(make_user) for _ in range(20)]
    bodies = [
        event_body("customer.subscription.created", dashboard_subscription(stripe_ready, u))
        for u in users
    ]
    with (
        override_settings(STRIPE_WEBHOOK_SECRET=SECRET),
        app_broker(own_redis.url),
        Worker(broker=own_redis.url, fake=fake_stripe, concurrency=2,
               extra_env={"STRIPE_WEBHOOK_SECRET": SECRET}) as worker,
    ):  # fmt: skip
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda body: post_event(Client(), body).status_code, bodies))
        assert answers == [200] * len(bodies)
        ids = [event_id_of(body) for body in bodies]
        done = WebhookEvent.objects.filter(pk__in=ids, status=Status.DONE)
        wait_for(lambda: done.count() == len(ids), timeout=60)
        log = worker.log()
    drains = len(re.findall(r"Task billing\.drain_webhook_inbox\[[^]]+\] received", log))
    assert 1 <= drains < len(bodies) // 2, log[-3000:]
    assert "Task billing.process_webhook_event[" not in log
    assert sum(WebhookEvent.objects.get(pk=i).attempts for i in ids) == len(ids)
    assert all(BillingAccount.objects.get(user=u).is_premium for u in users)


def test_a_redis_that_never_answers_holds_the_wake_up_about_a_second(caplog) -> None:
    """A hung broker: the mark's client gives up after its own short timeout, once (the event
    is stored; the sweep enqueues it). Before, two waits of the broker's socket timeout."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    port = listener.getsockname()[1]
    try:
        with app_broker(f"redis://127.0.0.1:{port}/0"):
            tasks._wake_client.cache_clear()
            started = time.monotonic()
            assert tasks.webhook_inbox_wake("evt_hung") is False
            waited = time.monotonic() - started
    finally:
        tasks._wake_client.cache_clear()
        listener.close()
    assert waited < 3 * tasks.WAKE_TIMEOUT_SECONDS  # the broker's own timeout here is 5 s
    assert "evt_hung stored but not enqueued" in caplog.text
