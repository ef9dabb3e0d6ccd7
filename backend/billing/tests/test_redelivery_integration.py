"""A crash costs seconds: real ``celery worker`` processes on a real Redis, killed mid-event.

The production bounds stay as they are (``BILLING_WEBHOOK_STALE_AFTER`` 15 min, the Redis
visibility timeout 10 min, no beat and so no sweep): an event that comes back within
seconds came back through the claim's holder, not through a timeout.

Stripe is the stand-in behind :func:`hang_first`, a loopback proxy that never answers the
first connection (the request the killed run waits on) and passes every later one through,
so the run that takes the event back finds Stripe working.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from billing import tasks
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
from devstack.processes import free_port

Status = WebhookEvent.Status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

#: Far above what the tests wait: reaching it would mean the holder rule did not work.
PRODUCTION_BOUNDS = {"BILLING_WEBHOOK_STALE_AFTER": "900", "CELERY_VISIBILITY_TIMEOUT": "600"}
#: The killed run must still be waiting for Stripe when it is killed.
PATIENT_STRIPE = {"STRIPE_TIMEOUT_SECONDS": "120", **PRODUCTION_BOUNDS}
#: Seconds a reclaimed event may take to be done (the bounds above are 600 s and more).
BACK_WITHIN = 45


@pytest.fixture(autouse=True)
def webhook_secret() -> Iterator[None]:
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        yield


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def hang_first(target_url: str) -> Iterator[tuple[str, list[Any]]]:
    """``(url, held)``: a proxy to ``target_url`` that holds its first connection unanswered
    (``held``) and forwards the others."""
    host, port = target_url.removeprefix("http://").split(":")
    server = socket.socket()
    server.bind(("127.0.0.1", free_port()))
    server.listen(50)
    server.settimeout(0.2)
    held: list[Any] = []
    opened: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            opened.append(client)
            if not held:
                held.append(client)
                continue
            upstream = socket.create_connection((host, int(port)))
            opened.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", held
    finally:
        stop.set()
        thread.join()
        for sock in opened:
            sock.close()
        server.close()


def row(event_id: str) -> WebhookEvent:
    return WebhookEvent.objects.get(pk=event_id)


def done_within(worker: Worker, event_id: str, timeout: float) -> WebhookEvent:
    """The event once ``done``; a failure shows the worker's log."""
    try:
        return wait_for(
            lambda: row(event_id).status == Status.DONE and row(event_id), timeout=timeout
        )
    except AssertionError:
        raise AssertionError(f"not done in {timeout}s:\n{worker.log()[-5000:]}") from None


def processing(event_id: str) -> WebhookEvent | None:
    event = WebhookEvent.objects.filter(pk=event_id, status=Status.PROCESSING).first()
    return event if event is not None and event.claimed_process else None


def holder_pid(event: WebhookEvent) -> int:
    """The pool process that holds the claim (``<scope>/<pid>/<start time>``)."""
    return int(event.claimed_process.rsplit("/", 2)[1])


@pytest.mark.parametrize("path", ["drain", "task"])
def test_a_claim_held_by_a_killed_pool_process_is_taken_back_by_its_redelivery(
    path, redis_url, fake_stripe, stripe_ready, make_user
):
    """A pool process SIGKILLed mid-event (the OOM killer's way): Celery delivers its task
    again at once (``reject_on_worker_lost``), with the same id, and that delivery takes the
    ``processing`` claim back instead of skipping the event for 15 minutes. Meanwhile a
    different task for the same event does not steal the live claim."""
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    event_id = event_id_of(body)
    with (
        app_broker(redis_url),
        hang_first(fake_stripe.url) as (stripe_url, held),
        Worker(broker=redis_url, fake=fake_stripe, stripe_url=stripe_url, concurrency=2,
               extra_env={**PATIENT_STRIPE, "STRIPE_WEBHOOK_SECRET": SECRET}) as worker,
    ):  # fmt: skip
        if path == "drain":
            assert post_event(Client(), body).status_code == 200  # a drain takes it
        else:
            store(body)
            tasks.process_webhook_event.delay(event_id)  # as the sweep or a Replay would
        claim = wait_for(lambda: processing(event_id), timeout=60)
        wait_for(lambda: held, timeout=30)  # its Stripe call hangs
        assert claim.claimed_by, "the claim names the task that holds it"

        if connection.vendor == "postgresql":
            # A different task for the same event, while the holder lives: skipped. (On
            # SQLite the holder's open write transaction — the sync keeps the account locked
            # while it asks Stripe — makes any other writer wait, so only PostgreSQL shows
            # the two claims side by side; test_reclaim.py has the rule on both.)
            finished = worker.log().count(" succeeded in ")
            tasks.process_webhook_event.delay(event_id)
            wait_for(lambda: worker.log().count(" succeeded in ") > finished, timeout=30)
            assert "'skipped'" in worker.log().split(" succeeded in ")[-1]
            assert row(event_id).claimed_by == claim.claimed_by and row(event_id).attempts == 1

        killed_at = time.monotonic()
        os.kill(holder_pid(claim), signal.SIGKILL)
        done = done_within(worker, event_id, BACK_WITHIN)
        took = time.monotonic() - killed_at
        log = worker.log()
    assert done.claimed_by == claim.claimed_by, "the same task took it back"
    assert done.attempts == 2
    assert "WorkerLostError" in log or "Process 'ForkPoolWorker" in log, log[-3000:]
    assert log.count(f"Stripe event {event_id} (") == 1  # applied once
    assert took < BACK_WITHIN
    assert BillingAccount.objects.get(user=user).is_premium


def test_a_restarted_worker_takes_back_the_claims_of_its_killed_run_at_once(
    redis_url, fake_stripe, stripe_ready, make_user
):
    """The whole worker SIGKILLed (main process and pool): its task comes back only after the
    visibility timeout (10 min), but the worker that starts in its place releases the claim
    of the dead process at once and the event is done within seconds."""
    user = unique_user(make_user)
    body = event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    event_id = event_id_of(body)
    env = {**PATIENT_STRIPE, "STRIPE_WEBHOOK_SECRET": SECRET}
    with app_broker(redis_url), hang_first(fake_stripe.url) as (stripe_url, _):
        first = Worker(broker=redis_url, fake=fake_stripe, stripe_url=stripe_url, extra_env=env)
        with first:
            assert post_event(Client(), body).status_code == 200
            claim = wait_for(lambda: processing(event_id), timeout=60)
            first.kill()  # SIGKILL to the process group, as `docker kill` would
        assert row(event_id).status == Status.PROCESSING
        started = time.monotonic()
        with Worker(broker=redis_url, fake=fake_stripe, extra_env=env) as second:
            done = done_within(second, event_id, BACK_WITHIN)
            took = time.monotonic() - started
            log = second.log()
    assert "claim(s) of dead processes released" in log, log[-3000:]
    assert done.attempts == 2 and done.claimed_by != claim.claimed_by  # the re-enqueued task
    assert took < BACK_WITHIN
    assert BillingAccount.objects.get(user=user).is_premium
