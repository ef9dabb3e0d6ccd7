"""Helpers and fixtures for the webhook tests (no tests here).

* :func:`sign` makes a ``Stripe-Signature`` header the way Stripe does (and the way
  ``stripe.WebhookSignature`` checks it), :func:`event_body` a Stripe event around a real
  object of the stand-in.
* :class:`RedisProcess` is a redis-server that can be stopped and started again on the same
  port (the broker going down and coming back).
* :class:`Worker` runs ``python -m celery -A config worker`` as a real process against the
  test database (SQLite file or PostgreSQL ``test_...``) and the stand-in.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import stripe
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from devstack.processes import free_port, wait_for_port

BACKEND = Path(__file__).resolve().parents[2]
URL = "/api/stripe-webhooks/"
SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_0123456789abcdef"


# --- Signed events ---------------------------------------------------------------------


def sign(payload: bytes | str, secret: str = SECRET, timestamp: int | None = None) -> str:
    """``t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>``, as Stripe signs."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{ts}.{text}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event_body(
    event_type: str,
    obj: Any,
    *,
    event_id: str | None = None,
    created: int | None = None,
    previous_attributes: dict | None = None,
) -> bytes:
    """A Stripe event (current shape) about ``obj`` (a stripe object or a dict)."""
    data: dict[str, Any] = {"object": obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    event = {
        "id": event_id or "evt_test_" + secrets.token_hex(8),
        "object": "event",
        "api_version": "2026-08-26.dahlia",
        "created": created or int(time.time()),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, indent=2, default=str).encode()  # decimals as Stripe sends them


def post_event(client: Any, body: bytes, header: str | None = None, **extra: Any) -> Any:
    """POST a raw body to the receiver; signed with :data:`SECRET` unless a header is given."""
    headers = {"HTTP_STRIPE_SIGNATURE": sign(body) if header is None else header}
    if header == "":
        headers = {}
    return client.post(URL, data=body, content_type="application/json", **headers, **extra)


def stand_in(fake: Any) -> stripe.StripeClient:
    """Our own client of the stand-in, acting as Stripe's dashboard would."""
    return stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.url},
                               max_network_retries=0)  # fmt: skip


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {check}")
        time.sleep(every)


# --- Broker -----------------------------------------------------------------------------


class RedisProcess:
    """A redis-server on a fixed free port that can go down and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wh-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        binary = shutil.which("redis-server")
        if not binary:
            pytest.skip("redis-server is not installed (make apt)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def app_broker(url: str, options: dict | None = None) -> Iterator[None]:
    """Point this process's Celery app (the receiver's publisher) at ``url``."""
    old_url = celery_app.conf.broker_url
    old_options = celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport_options = options or {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    celery_app._after_fork()  # drop pooled connections to the previous broker
    try:
        yield
    finally:
        celery_app.conf.broker_url = old_url
        celery_app.conf.broker_transport_options = old_options
        celery_app._after_fork()


def shared_redis_url() -> str | None:
    """``make test``'s Redis (a database of its own, away from the cache), if any."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return None
    base, _, _db = url.rpartition("/")
    return f"{base}/7" if _db.isdigit() else url.rstrip("/") + "/7"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real Redis broker for the module: make test's, or one of our own."""
    url = shared_redis_url()
    if url:
        yield url
        return
    server = RedisProcess().start()
    try:
        yield server.url
    finally:
        server.close()


# --- The worker process ---------------------------------------------------------------------


def worker_database_url() -> str:
    """A DATABASE_URL for the database this test runs on (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        options = "timeout=20&transaction_mode=IMMEDIATE"
        return f"sqlite:///{Path(db['NAME']).resolve()}?{options}"
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{db['NAME']}"
    raise RuntimeError(f"no worker support for {connection.vendor}")


class Worker:
    """``python -m celery -A config worker`` on the test database, the stand-in and a broker."""

    def __init__(self, *, broker: str, fake: Any, beat: bool = False, concurrency: int = 4,
                 extra_env: dict[str, str] | None = None,
                 stripe_url: str | None = None) -> None:  # fmt: skip
        self.broker = broker
        self.fake = fake
        self.beat = beat
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.stripe_url = stripe_url or fake.url
        self.dir = Path(tempfile.mkdtemp(prefix="wh-worker-"))
        self.log_path = self.dir / "worker.log"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=worker_database_url(),
            DATABASE_CONN_MAX_AGE="0",
            REDIS_URL=self.broker,
            CELERY_BROKER_URL=self.broker,
            STRIPE_SECRET_KEY=self.fake.secret_key,
            STRIPE_PUBLISHABLE_KEY=self.fake.publishable_key,
            STRIPE_API_HOST=self.stripe_url,
            STRIPE_WEBHOOK_SECRET=settings.STRIPE_WEBHOOK_SECRET,
            STRIPE_MAX_NETWORK_RETRIES="0",
            STRIPE_TIMEOUT_SECONDS="5",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> Worker:
        command = [sys.executable, "-m", "celery", "-A", "config", "worker",
                   "--loglevel=INFO", f"--concurrency={self.concurrency}", "--pool=prefork",
                   "--without-gossip", "--without-mingle",
                   "-n", f"test-{secrets.token_hex(4)}@%h"]  # fmt: skip
        if self.beat:
            command += ["--beat", "--schedule", str(self.dir / "beat-schedule")]
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            command, cwd=BACKEND, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL reaches the pool too
        )  # fmt: skip
        log.close()
        wait_for(lambda: self.ready() or self._died(), timeout=60, every=0.2)
        if self.proc.poll() is not None:
            raise RuntimeError("celery worker exited:\n" + self.log())
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def ready(self) -> bool:
        return " ready." in self.log()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as the OOM killer would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
