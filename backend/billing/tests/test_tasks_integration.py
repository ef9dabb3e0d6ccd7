"""Webhooks through a real Redis and a real ``celery worker`` process, on the test database.

Works on SQLite (the file test database) and on PostgreSQL (``test_opensecdata``): the
worker gets the test database's URL and the stand-in's address through its environment.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from billing import tasks
from billing.models import BillingAccount, WebhookEvent
from billing.tests.support import (
    SECRET,
    URL,
    Worker,
    app_broker,
    assert_matches_stripe,
    dashboard_subscription,
    event_body,
    event_id_of,
    post_event,
    unique_user,
    wait_for,
)
from devstack.processes import free_port
from fakestripe.testing import stripe_client as stand_in

Status = WebhookEvent.Status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def webhook_secret() -> Iterator[None]:
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        yield


@pytest.fixture(scope="module")
def worker(redis_url, fake_stripe, django_db_setup, django_db_blocker) -> Iterator[Worker]:
    """One worker process for the module, and this process publishing to its broker."""
    with django_db_blocker.unblock(), app_broker(redis_url):
        w = Worker(broker=redis_url, fake=fake_stripe, extra_env={"STRIPE_WEBHOOK_SECRET": SECRET})
        with w:
            yield w


def status_of(event_id: str) -> str | None:
    row = WebhookEvent.objects.filter(pk=event_id).first()
    return row.status if row else None


def wait_done(event_id: str, timeout: float = 30, worker: Worker | None = None) -> WebhookEvent:
    """The event once done or failed; on a timeout the assertion carries the worker's log."""
    waiting = worker.wait_for if worker is not None else wait_for
    waiting(lambda: status_of(event_id) in (Status.DONE, Status.FAILED), timeout=timeout)
    return WebhookEvent.objects.get(pk=event_id)


# --- Once and only once -------------------------------------------------------------------


def test_duplicate_and_ten_concurrent_deliveries_are_processed_once(
    worker, stripe_ready, make_user
):
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    event_id = event_id_of(body)

    answers: list[int] = []

    def deliver() -> None:
        answers.append(post_event(Client(), body).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 10
    event = wait_done(event_id)
    assert event.status == Status.DONE and event.attempts == 1
    # Once more, one after another, after it is done.
    assert post_event(Client(), body).json()["duplicate"] is True
    # Ten copies of the task itself, run concurrently by the worker's pool: all skip.
    finished_before = worker.log().count("succeeded in")
    for _ in range(10):
        tasks.process_webhook_event.delay(event_id)
    wait_for(lambda: worker.log().count("succeeded in") >= finished_before + 10, timeout=30)
    event.refresh_from_db()
    assert event.attempts == 1 and event.status == Status.DONE
    assert worker.log().count(f"Stripe event {event_id} (") == 1
    assert BillingAccount.objects.get(user=user).is_premium


def test_out_of_order_deliveries_end_in_the_stand_ins_state(worker, stripe_ready, make_user):
    client = stand_in(stripe_ready)
    # deleted before created
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    created = event_body("customer.subscription.created", sub)
    deleted = event_body("customer.subscription.deleted", client.v1.subscriptions.cancel(sub.id))
    # two updates reversed
    other = unique_user(make_user)
    sub2 = dashboard_subscription(stripe_ready, other)
    first = client.v1.subscriptions.update(sub2.id, params={"cancel_at_period_end": True})
    second = client.v1.subscriptions.update(sub2.id, params={"cancel_at_period_end": False})
    bodies = [
        deleted,
        created,
        event_body("customer.subscription.updated", second),
        event_body("customer.subscription.updated", first),
    ]
    for body in bodies:
        assert post_event(Client(), body).status_code == 200
    for body in bodies:
        assert wait_done(event_id_of(body)).status == Status.DONE
    assert BillingAccount.objects.get(user=user).stripe_status == "canceled"
    assert_matches_stripe(stripe_ready, user)
    assert BillingAccount.objects.get(user=other).cancel_at_period_end is False
    assert_matches_stripe(stripe_ready, other)


# --- End to end: the stand-in's own webhooks to a live server ------------------------------


def test_buying_and_cancelling_in_stripe_flow_through_webhooks(
    worker, stripe_ready, make_user, live_server
):
    stripe_ready.register_webhook(live_server.url + URL, SECRET, name="e2e")
    try:
        user = unique_user(make_user)
        api = APIClient()
        api.force_login(user)
        bought = api.post("/api/stripe/create-subscription/", {}, format="json")
        assert bought.status_code in (200, 201), bought.content
        assert bought.json()["premium"] is False
        intent_id = bought.json()["client_secret"].split("_secret_")[0]
        # What Stripe.js does in the browser: confirm the first invoice's payment.
        stand_in(stripe_ready).v1.payment_intents.confirm(
            intent_id, params={"payment_method": "pm_card_visa"}
        )
        wait_for(lambda: api.get("/api/stripe/subscription/").json()["premium"], timeout=30)
        # Cancelled in Stripe's dashboard: DELETE /v1/subscriptions/{id}.
        subscription_id = bought.json()["subscription_id"]
        stand_in(stripe_ready).v1.subscriptions.cancel(subscription_id)
        wait_for(lambda: not api.get("/api/stripe/subscription/").json()["premium"], timeout=30)
        assert api.get("/api/stripe/subscription/").json()["state"] == "cancelled"
        # Everything the stand-in sent got processed (it delivers ~0.1 s after each change).
        wait_for(
            lambda: WebhookEvent.objects.filter(type="customer.subscription.deleted").exists(),
            timeout=30,
        )
        wait_for(
            lambda: (
                not WebhookEvent.objects.exclude(status__in=[Status.DONE, Status.IGNORED]).exists()
            ),
            timeout=30,
        )
        assert not api.get("/api/stripe/subscription/").json()["premium"]
    finally:
        stripe_ready.unregister_webhook("e2e")


# --- Failures: the broker goes away, the worker dies ------------------------------------------


def test_broker_down_event_is_stored_and_processed_by_the_sweep_when_it_returns(
    own_redis, fake_stripe, stripe_ready, make_user
):
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    event_id = event_id_of(body)
    sweeping = {"BILLING_WEBHOOK_SWEEP_SECONDS": "2", "BILLING_WEBHOOK_SWEEP_AFTER": "1"}
    with (
        app_broker(own_redis.url),
        Worker(broker=own_redis.url, fake=fake_stripe, beat=True, extra_env=sweeping) as w,
    ):
        own_redis.stop()
        response = post_event(Client(), body)
        assert response.status_code == 200
        assert status_of(event_id) == Status.RECEIVED
        own_redis.start()  # same port: the worker and beat reconnect
        event = wait_done(event_id, timeout=60, worker=w)
        assert event.status == Status.DONE, w.log()[-3000:]
    assert BillingAccount.objects.get(user=user).is_premium


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """An HTTP address that accepts connections and never answers (a hung Stripe)."""
    server = socket.socket()
    server.bind(("127.0.0.1", free_port()))
    server.listen(50)
    held: list[Any] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept())

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn, _ in held:
            conn.close()
        server.close()


def test_worker_killed_mid_task_the_event_is_processed_after_restart(
    own_redis, fake_stripe, stripe_ready, make_user
):
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    event_id = event_id_of(body)
    fast_recovery = {
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        "BILLING_WEBHOOK_STALE_AFTER": "2",
    }
    with app_broker(own_redis.url), black_hole() as hung_stripe:
        first = Worker(broker=own_redis.url, fake=fake_stripe, stripe_url=hung_stripe,
                       extra_env={**fast_recovery, "STRIPE_TIMEOUT_SECONDS": "120"})  # fmt: skip
        with first:
            assert post_event(Client(), body).status_code == 200
            wait_for(lambda: status_of(event_id) == Status.PROCESSING, timeout=30)
            first.kill()  # SIGKILL while the task waits for Stripe
        assert status_of(event_id) == Status.PROCESSING
        with Worker(broker=own_redis.url, fake=fake_stripe, extra_env=fast_recovery) as second:
            event = wait_done(event_id, timeout=60)
            assert event.status == Status.DONE, second.log()[-3000:]
    assert event.attempts == 2
    assert BillingAccount.objects.get(user=user).is_premium


def test_redis_dropping_while_a_task_runs_leaves_the_worker_running_and_reconnecting(
    own_redis, fake_stripe, stripe_ready, make_user
):
    """celery 5.7.0's worker shut itself down when Redis dropped while it held an
    unacknowledged task (AttributeError in kombu's second close of the lost connection);
    config/worker.py's consumer keeps it up: it reconnects when Redis is back, and the task
    that was running is acknowledged when it ends (here: Stripe's timeout, then a retry)."""
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    event_id = event_id_of(body)
    with app_broker(own_redis.url), black_hole() as hung_stripe:
        worker = Worker(broker=own_redis.url, fake=fake_stripe, stripe_url=hung_stripe,
                        extra_env={"STRIPE_TIMEOUT_SECONDS": "15"})  # fmt: skip
        with worker:
            assert post_event(Client(), body).status_code == 200
            # The task waits for Stripe, its message unacknowledged (acks_late).
            wait_for(lambda: status_of(event_id) == Status.PROCESSING, timeout=30)
            own_redis.stop()
            wait_for(lambda: "Connection to broker lost" in worker.log(), timeout=30)
            connected = worker.log().count("Connected to redis://")
            own_redis.start()

            def settled() -> bool:
                log = worker.log()
                ended = "Unrecoverable error" in log or worker._died()
                return ended or (
                    log.count("Connected to redis://") > connected and " retry: Retry in " in log
                )

            worker.wait_for(settled, timeout=60)
            time.sleep(1)  # the retried task's acknowledgement follows its "retry" line
            log = worker.log()
            assert not worker._died(), log[-6000:]
            for trouble in ("Unrecoverable error", "AttributeError", "Pool callback raised"):
                assert trouble not in log, log[-6000:]


def test_make_runs_filesystem_broker_carries_events_to_the_worker(
    tmp_path, fake_stripe, stripe_ready, make_user
):
    """`make run` has no Redis: kombu's filesystem transport under VAR_DIR/celery-broker."""
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    folder = tmp_path / "celery-broker"
    options = {
        "data_folder_in": str(folder / "out"),
        "data_folder_out": str(folder / "out"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(folder / "control"),
    }
    env = {"VAR_DIR": str(tmp_path), "REDIS_URL": "", "CELERY_BROKER_URL": "filesystem://"}
    with Worker(broker="filesystem://", fake=fake_stripe, extra_env=env, concurrency=2) as w:
        # The worker's settings made the folders (kombu does not).
        assert (folder / "out").is_dir() and (folder / "processed").is_dir()
        with app_broker("filesystem://", options):
            assert post_event(Client(), body).status_code == 200
            event = wait_done(event_id_of(body))
        assert event.status == Status.DONE, w.log()[-3000:]
    assert BillingAccount.objects.get(user=user).is_premium


def test_a_burst_with_duplicates_in_shuffled_order_ends_as_stripe_has_it(
    worker, stripe_ready, make_user
):
    """Seven customers' events (created, cancel-at-period-end, deleted), 20 % of them sent
    twice, all shuffled and posted four at a time: each stored row equals the stand-in's."""
    rng = random.Random(20261126)
    client = stand_in(stripe_ready)
    users = [unique_user(make_user) for _ in range(7)]
    bodies = []
    for i, user in enumerate(users):
        sub = dashboard_subscription(stripe_ready, user)
        bodies.append(event_body("customer.subscription.created", sub))
        if i % 3 == 0:
            changed = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
            bodies.append(event_body("customer.subscription.updated", changed))
        elif i % 3 == 1:
            bodies.append(
                event_body("customer.subscription.deleted", client.v1.subscriptions.cancel(sub.id))
            )
    burst = bodies + rng.sample(bodies, k=len(bodies) // 4)  # 3 of 15 deliveries repeat
    rng.shuffle(burst)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda body: post_event(Client(), body).status_code, burst))
    assert answers == [200] * len(burst)
    ids = [event_id_of(body) for body in bodies]
    for event_id in ids:
        assert wait_done(event_id).status == Status.DONE
    assert WebhookEvent.objects.filter(pk__in=ids).count() == len(bodies)
    assert sum(WebhookEvent.objects.get(pk=i).attempts for i in ids) == len(bodies)
    for user in users:
        assert_matches_stripe(stripe_ready, user)
    states = {BillingAccount.objects.get(user=u).stripe_status for u in users}
    assert states == {"active", "canceled"}
