"""The six faults of `make chaos`. Each breaks one part of the topology while a burst of
signed events and a few purchases run (chaos.run starts those), and returns once the part is
repaired; what it observed on the way goes into ``Context.checks`` (asserted: a False fails
the run) and ``Context.notes`` (reported).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.topology import APP_PROCESSES, Topology, wait_ready, worker_ready_count
from chaos.traffic import http_get
from devstack.paths import say


@dataclass
class Context:
    """What a fault may use and what it reports."""

    topology: Topology
    args: argparse.Namespace
    rng: random.Random
    #: Changes subscriptions at Stripe now (dashboard edits); returns the users touched.
    change_subscriptions: Callable[[], list[int]]
    checks: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    #: The billing e-mails a killed process died holding ``sending`` (Message-ID local part
    #: -> how many kills, :func:`chaos.observe.emails_died_with`): the relay may have taken
    #: one before the kill and its ``sent`` not be stored, so it is sent again by design (at
    #: least once; billing.notifications' docstring). Up to one extra copy per such kill is
    #: counted as resent, not as done twice; any other extra copy fails the run.
    killed_while_sending: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Fault:
    number: int
    title: str
    #: Seconds over which the burst's events are sent (the fault happens inside them).
    burst_seconds: Callable[[argparse.Namespace], float]
    #: Before any traffic (e.g. arm the stand-in's faults).
    arm: Callable[[Context], None]
    #: Breaks, waits, repairs; returns when the part is back.
    run: Callable[[Context], None]


def _nothing(ctx: Context) -> None:
    return None


def pool_processes(pid: int) -> list[int]:
    """The children of ``pid`` (the Celery worker's pool processes), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def kill_pool_processes(ctx: Context) -> None:
    """1. Celery pool processes SIGKILLed repeatedly (as the OOM killer does), each time one
    that holds a claim on an event if there is one: killed mid-event."""
    from chaos import observe

    kills = busy = 0
    pause = ctx.args.burst_seconds / (ctx.args.pool_kills + 1)
    for _ in range(ctx.args.pool_kills):
        time.sleep(pause)
        pool = pool_processes(ctx.topology.pid("celery-worker"))
        holding = [pid for pid in observe.claim_holders() if pid in pool]
        victims = holding or pool
        if not victims:
            continue
        victim = ctx.rng.choice(victims)
        sending = observe.emails_held([victim])
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
        ctx.killed_while_sending.update(observe.emails_died_with(victim, sending))
        kills += 1
        busy += bool(holding)
    ctx.notes["pool processes killed"] = kills
    ctx.notes["of them holding a claim"] = busy
    time.sleep(pause)


def kill_worker(ctx: Context) -> None:
    """2. The Celery worker's main process SIGKILLed (its pool dies with it), restarted by the
    supervisor, twice."""
    from chaos import observe

    for _ in range(2):
        time.sleep(3)
        ready = worker_ready_count(ctx.topology)
        worker = ctx.topology.pid("celery-worker")
        processes = [worker, *pool_processes(worker)]
        sending = {pid: observe.emails_held([pid]) for pid in processes}
        os.kill(worker, signal.SIGKILL)
        for pid, held in sending.items():
            ctx.killed_while_sending.update(observe.emails_died_with(pid, held))
        wait_ready(ctx.topology, since=ready)
    ctx.notes["worker restarts"] = ctx.topology.restarts("celery-worker")


def stop_redis(ctx: Context) -> None:
    """3. Redis SIGKILLed, down for ``--redis-down`` seconds, started again (append-only file:
    what it had is back)."""
    time.sleep(2)
    ctx.topology.redis.kill()
    down_at = time.monotonic()
    time.sleep(3)
    # The data API while Redis (its quota counter) is down: served, uncounted (the choice
    # documented in docs/api.md and quotas/services.py).
    status, headers, body = http_get(f"{ctx.topology.url}/api/filers/")
    ctx.notes["data API while Redis is down"] = {
        "status": status,
        "X-RateLimit-Remaining": headers.get("X-RateLimit-Remaining"),
    }
    ctx.checks["data API answers 200 while Redis is down"] = status == 200 and _json(body)
    time.sleep(max(0.0, ctx.args.redis_down - (time.monotonic() - down_at)))
    ctx.topology.redis.start()
    ctx.notes["Redis down (s)"] = round(time.monotonic() - down_at, 1)


def restart_postgres(ctx: Context) -> None:
    """4. PostgreSQL stopped (fast shutdown: sessions cut, open transactions aborted) and
    started again after ``--postgres-down`` seconds."""
    time.sleep(3)
    ctx.topology.postgres.stop()
    down_at = time.monotonic()
    time.sleep(ctx.args.postgres_down)
    ctx.topology.postgres.start()
    ctx.notes["PostgreSQL down (s)"] = round(time.monotonic() - down_at, 1)


#: ``POST /_config/faults`` of the stand-in: purchases first (an outage before acting, a
#: timeout after acting), then the worker's reads of subscriptions (the sync).
STRIPE_FAULTS = [
    {"method": "POST", "path": "/v1/customers", "action": "error", "status": 500, "count": 3},
    {"method": "POST", "path": "/v1/subscriptions", "action": "drop", "count": 3},
    {"method": "GET", "path": "/v1/subscriptions", "action": "error", "status": 503, "count": 30},
    {"method": "GET", "path": "/v1/subscriptions", "action": "drop", "count": 6},
]


def _stand_in(ctx: Context, method: str, path: str, data: dict | None = None) -> None:
    request = urllib.request.Request(
        f"{ctx.topology.fake.url}{path}",
        data=json.dumps(data).encode() if data is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def arm_stripe_faults(ctx: Context) -> None:
    for fault in STRIPE_FAULTS:
        _stand_in(ctx, "POST", "/_config/faults", fault)
    ctx.notes["stand-in faults"] = [
        f"{f['method']} {f['path']}: {f['action']} x{f['count']}" for f in STRIPE_FAULTS
    ]


def stripe_failing(ctx: Context) -> None:
    """5. The Stripe stand-in answers 5xx, or acts and drops the connection, during the
    purchases and while the worker reads subscriptions; the faults left are cleared at the
    burst's end."""
    time.sleep(ctx.args.burst_seconds)
    _stand_in(ctx, "DELETE", "/_config/faults")


def app_down(ctx: Context) -> None:
    """6. The app (gunicorn, Celery worker and beat: the backend image) stopped for
    ``--app-down`` seconds while subscriptions change at Stripe; NGINX stays and answers 502,
    Stripe retries."""
    time.sleep(2)
    ctx.topology.stop(*APP_PROCESSES)
    down_at = time.monotonic()
    status, _, body = http_get(f"{ctx.topology.url}/api/")
    ctx.notes["NGINX while the app is down"] = {"status": status, "body": body[:120].decode()}
    time.sleep(ctx.args.app_down / 3)
    touched = ctx.change_subscriptions()  # the dashboard, while nobody listens
    ctx.notes["subscriptions changed while down"] = len(touched)
    time.sleep(max(0.0, ctx.args.app_down - (time.monotonic() - down_at)))
    ready = worker_ready_count(ctx.topology)
    ctx.topology.start(*APP_PROCESSES)
    wait_ready(ctx.topology, since=ready)
    ctx.notes["app down (s)"] = round(time.monotonic() - down_at, 1)
    say(f"app back after {ctx.notes['app down (s)']} s")


def _json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


#: Titles are formatted with the run's arguments.
FAULTS = [
    Fault(1, "pool processes SIGKILLed x{pool_kills}", lambda a: a.burst_seconds, _nothing,
          kill_pool_processes),
    Fault(2, "worker SIGKILLed x2, restarted", lambda a: a.burst_seconds, _nothing, kill_worker),
    Fault(3, "Redis down {redis_down:g} s", lambda a: a.redis_down + 8, _nothing, stop_redis),
    Fault(4, "PostgreSQL restarted ({postgres_down:g} s)", lambda a: a.burst_seconds, _nothing,
          restart_postgres),
    Fault(5, "Stripe 5xx / drops after acting", lambda a: a.burst_seconds, arm_stripe_faults,
          stripe_failing),
    Fault(6, "app down {app_down:g} s, Stripe changes", lambda a: a.app_down + 6, _nothing,
          app_down),
]  # fmt: skip
