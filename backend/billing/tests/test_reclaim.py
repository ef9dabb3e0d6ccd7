"""Who holds a claim (billing.holders) and how a crashed holder's event comes back at once:
the same task's redelivery (billing.inbox.inbox_claim), dead processes (inbox_orphans), the
effect and the end of the claim in one transaction (billing.tasks._event_finish).

The real worker, killed and redelivered, is in test_redelivery_integration.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from django.test import override_settings
from django.utils import timezone

from billing import events, holders, inbox, tasks
from billing.holders import Holder
from billing.models import BillingAccount, WebhookEvent
from billing.tests.support import (
    app_broker,
    dashboard_subscription,
    event_body,
    process,
    store,
    unique_user,
)

Status = WebhookEvent.Status
TASK_A = Holder(task_id="task-a", process=holders.current_process())
TASK_B = Holder(task_id="task-b", process=holders.current_process())


def an_event() -> WebhookEvent:
    return store(event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}))


def reread(event: WebhookEvent) -> WebhookEvent:
    return WebhookEvent.objects.get(pk=event.pk)


def dead_process() -> str:
    """The holder token of a process that ran and has ended (a real child of this one)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = holders._process(child.pid)
        assert token and not holders.process_gone(token)  # it runs: not gone
    finally:
        child.kill()
        child.wait()
    return token


# --- Holders -------------------------------------------------------------------------------


def test_this_process_is_named_by_its_scope_pid_and_start_time():
    token = holders.current_process()
    scope, pid, start = token.rsplit("/", 2)
    assert scope == holders.scope() and pid.isdigit() and start.isdigit()
    assert not holders.process_gone(token)


def test_an_ended_process_is_gone_and_a_reused_pid_is_not_the_same_process():
    assert holders.process_gone(dead_process())
    # This pid, but started at another moment: the pid was reused, the holder is gone.
    scope, pid, start = holders.current_process().rsplit("/", 2)
    assert holders.process_gone(f"{scope}/{pid}/{int(start) + 1}")


def test_a_dead_process_nobody_reaped_yet_is_gone():
    """A zombie keeps its /proc entry and start time until its parent reaps it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    stat = Path(f"/proc/{child.pid}/stat")
    try:
        token = holders._process(child.pid)
        assert token and not holders.process_gone(token)
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.05)  # it exits, and stays a zombie until wait()
        assert holders.process_gone(token)
    finally:
        child.wait()


@pytest.mark.parametrize("token", ["", "elsewhere/boot:1/1/1", "nonsense"])
def test_a_holder_that_cannot_be_judged_from_here_is_never_gone(token):
    assert not holders.process_gone(token)


def _task(*, broker: str, visibility: int | None = 600, time_limit: int | None = 240) -> object:
    options = {} if visibility is None else {"visibility_timeout": visibility}
    conf = SimpleNamespace(broker_url=broker, broker_transport_options=options)
    return SimpleNamespace(
        app=SimpleNamespace(conf=conf),
        time_limit=time_limit,
        retry_backoff=2,
        retry_backoff_max=300,
        default_retry_delay=180,
        request=SimpleNamespace(id="the-task-id"),
    )


@pytest.mark.parametrize(
    ("task", "safe"),
    [
        (_task(broker="redis://r:6379/0"), True),  # 240 s run + 300 s countdown < 600 s
        (_task(broker="redis://r:6379/0", visibility=500), False),
        (_task(broker="redis://r:6379/0", visibility=None), True),  # kombu's 3600 s
        (_task(broker="redis://r:6379/0", time_limit=None), False),  # a run has no bound
        (_task(broker="filesystem://"), True),  # never delivered twice
        (_task(broker="amqp://r//"), False),  # not assumed
    ],
)
def test_a_task_id_is_recorded_only_when_redeliveries_cannot_overlap(task, safe):
    assert holders.redeliveries_cannot_overlap(task) is safe
    assert holders.task_holder(task).task_id == ("the-task-id" if safe else "")
    assert holders.task_holder(task).process == holders.current_process()


def test_the_webhook_tasks_are_safe_with_the_default_visibility_timeout():
    """The settings' default (CELERY_VISIBILITY_TIMEOUT 600 s) against the tasks' own time
    limit and backoff cap: a change to either that breaks the rule fails here."""
    for task in (tasks.process_webhook_event, tasks.drain_webhook_inbox):
        conf = SimpleNamespace(
            broker_url="redis://r:6379/0", broker_transport_options={"visibility_timeout": 600}
        )
        view = SimpleNamespace(
            app=SimpleNamespace(conf=conf),
            time_limit=task.time_limit,
            retry_backoff=task.retry_backoff,
            retry_backoff_max=task.retry_backoff_max,
            default_retry_delay=task.default_retry_delay,
        )
        assert task.time_limit == tasks.TASK_TIME_LIMIT
        assert holders.redeliveries_cannot_overlap(view), task.name
    assert tasks.DRAIN_RETRY_COUNTDOWN < tasks.RETRY_BACKOFF_MAX


# --- The claim: the same task takes it back, another task does not --------------------------


def test_a_redelivery_of_the_holding_task_takes_the_claim_back_at_once(db):
    event = an_event()
    first = inbox.inbox_claim(event.pk, holder=TASK_A)
    assert first is not None and first.claimed_by == "task-a"
    # The worker died; Celery delivers task-a again, long before the stale bound.
    again = inbox.inbox_claim(event.pk, holder=TASK_A)
    assert again is not None and again.attempts == 2 and again.status == Status.PROCESSING


def test_a_different_task_does_not_steal_a_live_claim_before_the_stale_bound(db):
    event = an_event()
    assert inbox.inbox_claim(event.pk, holder=TASK_A) is not None
    assert inbox.inbox_claim(event.pk, holder=TASK_B) is None
    assert inbox.inbox_claim(event.pk) is None  # no task at all (this process)
    row = reread(event)
    assert row.claimed_by == "task-a" and row.attempts == 1
    # Only once the stale bound has passed may anyone take it (a holder nobody can judge).
    later = timezone.now() + timedelta(hours=1)
    assert inbox.inbox_claim(event.pk, holder=TASK_B, now=later) is not None


def test_a_holder_that_lost_its_claim_cannot_end_it(db):
    event = an_event()
    stale_holder = inbox.inbox_claim(event.pk, holder=TASK_A)
    assert stale_holder is not None
    later = timezone.now() + timedelta(hours=1)
    assert inbox.inbox_claim(event.pk, holder=TASK_B, now=later) is not None
    assert inbox.inbox_done(stale_holder) is False
    assert inbox.inbox_release(stale_holder, ConnectionError("late")) is False
    row = reread(event)
    assert row.status == Status.PROCESSING and row.claimed_by == "task-b"


def test_a_drain_finds_the_event_it_held_first(db):
    older, held = an_event(), store(event_body("invoice.paid", {"id": "in_2"}))
    assert inbox.inbox_claim(held.pk, holder=TASK_A) is not None
    assert inbox.inbox_waiting(limit=10, holder=TASK_A) == [held.pk, older.pk]
    assert inbox.inbox_waiting(limit=1, holder=TASK_A) == [held.pk]
    assert inbox.inbox_waiting(limit=10, holder=TASK_B) == [older.pk]
    assert inbox.inbox_waiting(limit=10) == [older.pk]


# --- Claims of dead processes ----------------------------------------------------------------


@override_settings(BILLING_WEBHOOK_MAX_ATTEMPTS=3)
def test_claims_of_dead_processes_come_back_and_live_or_foreign_ones_stay(db):
    orphan, live, foreign, hopeless = (
        store(event_body("invoice.paid", {"id": f"in_{n}"})) for n in range(4)
    )
    gone = Holder(task_id="", process=dead_process())
    assert inbox.inbox_claim(orphan.pk, holder=gone) is not None
    assert inbox.inbox_claim(live.pk, holder=TASK_A) is not None
    assert inbox.inbox_claim(foreign.pk, holder=Holder("t", "elsewhere/b:1/1/1")) is not None
    assert inbox.inbox_claim(hopeless.pk, holder=gone) is not None
    WebhookEvent.objects.filter(pk=hopeless.pk).update(attempts=3)

    assert inbox.inbox_orphans() == [orphan.pk]
    assert inbox.inbox_orphans() == []  # touched once
    assert reread(orphan).status == Status.RECEIVED
    assert reread(live).status == Status.PROCESSING
    assert reread(foreign).status == Status.PROCESSING
    assert reread(hopeless).status == Status.FAILED
    assert "its worker process is gone" in reread(hopeless).last_error


def test_the_sweep_enqueues_the_orphans(db, enqueued):
    orphan = an_event()
    assert inbox.inbox_claim(orphan.pk, holder=Holder(process=dead_process())) is not None
    assert tasks.sweep_webhook_events.apply().get() == 1
    assert enqueued == [orphan.pk]


def test_a_starting_worker_enqueues_the_orphans_and_wakes_a_drain(db, own_redis):
    """What the ``worker_ready`` signal runs, against a real Redis broker: the orphan's task
    and one drain are queued, the dead run's wake-up mark is gone."""
    orphan, waiting = an_event(), store(event_body("invoice.paid", {"id": "in_2"}))
    assert inbox.inbox_claim(orphan.pk, holder=Holder(process=dead_process())) is not None
    client = redis.Redis.from_url(own_redis.url)
    with app_broker(own_redis.url):
        client.set(tasks.WAKE_KEY, "evt_of_the_dead_run")  # its drain died with it
        assert tasks.webhook_inbox_recover() == 1
    messages = [json.loads(raw)["headers"] for raw in client.lrange("celery", 0, -1)]
    assert sorted((m["task"], m["argsrepr"]) for m in messages) == [
        ("billing.drain_webhook_inbox", "()"),  # it will take `waiting` (never tried)
        ("billing.process_webhook_event", f"('{orphan.pk}',)"),
    ]
    assert client.get(tasks.WAKE_KEY) is None
    assert inbox.inbox_waiting(limit=10) == [waiting.pk]


# --- Effect and end of the claim, together -----------------------------------------------------


def test_an_effect_is_rolled_back_when_the_claim_was_taken_over_meanwhile(
    stripe_ready, make_user, monkeypatch
):
    """The takeover is made inside the real handler's run (a wrapper around
    ``events.event_apply``): nothing else can interleave two holders at exactly that point."""
    user = unique_user(make_user)
    event = store(
        event_body("customer.subscription.created", dashboard_subscription(stripe_ready, user))
    )
    real_apply = events.event_apply

    def apply_then_lose_the_claim(event):
        result = real_apply(event)
        assert BillingAccount.objects.get(user=user).is_premium  # applied, not committed yet
        WebhookEvent.objects.filter(pk=event.pk).update(claimed_by="task-b")
        return result

    monkeypatch.setattr(events, "event_apply", apply_then_lose_the_claim)
    assert process(event) == "skipped"
    assert not BillingAccount.objects.filter(user=user, subscription_id__gt="").exists()
    # (The takeover itself was written in the same transaction, so it is rolled back too;
    # another worker's would have been committed, and the UPDATE of the end finds it.)
    assert reread(event).status == Status.PROCESSING
    monkeypatch.undo()
    # The new holder's run applies it, once.
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.RECEIVED)
    assert process(event) == "done"
    assert BillingAccount.objects.get(user=user).is_premium
