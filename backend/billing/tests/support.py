"""Plain helpers of the billing tests (no tests and no fixtures here: fixtures are in
conftest.py).

* Events: :func:`sign` (fakestripe's signature with the tests' secret), :func:`event_body`
  (a Stripe event around an object), :func:`post_event` (a delivery to the receiver),
  :func:`store` (what the receiver stores) and :func:`process` (the task, in this process).
* The stand-in as Stripe's dashboard would change it: :func:`dashboard_customer`,
  :func:`dashboard_subscription`, :func:`linked_account`; :func:`assert_matches_stripe`
  compares a stored row with the stand-in.
* Processes: :func:`redis_started` (devstack's throw-away Redis, or a skip),
  :func:`app_broker` and :class:`Worker` (``python -m celery -A config worker`` as a real
  process against the test database, SQLite file or PostgreSQL ``test_...``).
"""

from __future__ import annotations

import contextlib
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
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing import entitlement, services, tasks
from billing.models import BillingAccount, WebhookEvent
from config.celery import app as celery_app
from devstack.processes import RedisServer, ServiceMissing
from fakestripe import signing
from fakestripe.testing import stripe_client as stand_in

BACKEND = Path(__file__).resolve().parents[2]
URL = "/api/stripe-webhooks/"
SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_0123456789abcdef"


# --- Signed events ---------------------------------------------------------------------


def sign(payload: bytes | str, secret: str = SECRET, timestamp: int | None = None) -> str:
    """:func:`fakestripe.signing.sign` with the tests' :data:`SECRET` by default."""
    return signing.sign(payload, secret, timestamp)


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


def event_id_of(body: bytes) -> str:
    return json.loads(body)["id"]


def post_event(client: Any, body: bytes, header: str | None = None, **extra: Any) -> Any:
    """POST a raw body to the receiver; signed with :data:`SECRET` unless a header is given."""
    headers = {"HTTP_STRIPE_SIGNATURE": sign(body) if header is None else header}
    if header == "":
        headers = {}
    return client.post(URL, data=body, content_type="application/json", **headers, **extra)


def store(body: bytes) -> WebhookEvent:
    """What the receiver stores (its own tests cover the receiving)."""
    payload = json.loads(body)
    return WebhookEvent.objects.create(
        id=payload["id"], type=payload["type"], payload=payload, api_version="x"
    )


def process(event: WebhookEvent) -> str:
    """Run the worker's task on ``event`` in this process (``task.apply``)."""
    return tasks.process_webhook_event.apply(args=[event.pk]).get()


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {check}")
        time.sleep(every)


# --- Users and the stand-in's objects ------------------------------------------------------


def unique_user(make_user: Callable[..., Any]) -> Any:
    """A user with an id no other test used: the stand-in keeps customers across tests and
    the app's idempotency keys contain the user id."""
    return make_user(id=secrets.randbelow(10**9) + 10**6)


def dashboard_customer(fake: Any, user: Any) -> Any:
    return stand_in(fake).v1.customers.create(
        params={"email": user.email, "metadata": {"user_id": str(user.pk)}}
    )


def dashboard_subscription(fake: Any, user: Any, customer: Any = None, pm: str = "pm_card_visa"):
    """A paid subscription made directly in the stand-in, as in Stripe's dashboard."""
    client = stand_in(fake)
    customer = customer or dashboard_customer(fake, user)
    method = client.v1.payment_methods.attach(pm, params={"customer": customer.id})
    return client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": services.price_get().id}],
            "default_payment_method": method.id,
            "payment_behavior": "allow_incomplete",
            "metadata": {"user_id": str(user.pk)},
        }
    )


def linked_account(fake: Any, make_user: Callable[..., Any]) -> tuple[Any, Any]:
    """A user whose stored row says premium, while the stand-in has cancelled it (drift)."""
    user = unique_user(make_user)
    sub = dashboard_subscription(fake, user)
    BillingAccount.objects.create(
        user=user,
        stripe_customer_id=sub.customer,
        subscription_id=sub.id,
        stripe_status="active",
        premium_until=timezone.now() + timedelta(days=20),
    )
    stand_in(fake).v1.subscriptions.cancel(sub.id)  # the webhook never arrived
    return user, sub


def account_of(user: Any) -> BillingAccount:
    return BillingAccount.objects.get(user=user)


def assert_matches_stripe(fake: Any, user: Any) -> None:
    """The stored row equals what choose_subscription picks from the stand-in now."""
    account = account_of(user)
    subs = list(
        stand_in(fake)
        .v1.subscriptions.list(params={"customer": account.stripe_customer_id, "status": "all"})
        .data
    )
    snap = entitlement.snapshot(entitlement.choose_subscription(subs))
    assert account.subscription_id == snap.subscription_id
    assert account.stripe_status == snap.stripe_status
    assert account.cancel_at_period_end == snap.cancel_at_period_end
    assert account.premium_until == snap.premium_until


# --- Broker ---------------------------------------------------------------------------------


def redis_started() -> RedisServer:
    """devstack's throw-away redis-server, started; skips the test when it is not installed.
    It can be stopped and started again on the same port (the broker going down and back)."""
    try:
        return RedisServer().start()
    except ServiceMissing as exc:
        pytest.skip(str(exc))


def shared_redis_url() -> str | None:
    """``make test``'s Redis (a database of its own, away from the cache), if any."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return None
    base, _, _db = url.rpartition("/")
    return f"{base}/7" if _db.isdigit() else url.rstrip("/") + "/7"


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

    def wait_for(self, check: Callable[[], Any], *, timeout: float = 30.0) -> Any:
        """:func:`wait_for`, and on a timeout the assertion carries this worker's log."""
        try:
            return wait_for(check, timeout=timeout)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; the worker's log:\n{self.log()[-6000:]}") from None

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


# --- Promotion codes (made in the Stripe stand-in as in the dashboard) ---------------------


def our_product() -> str:
    return services.price_get().product_id


def make_code(fake: Any, *, coupon: dict | None = None, **code_params: Any) -> str:
    """A coupon (50 % off once, for Premium, unless ``coupon`` says otherwise) and a promotion
    code for it, as made in Stripe's dashboard; returns the code (unique per call)."""
    client = stand_in(fake)
    terms = coupon or {
        "percent_off": 50,
        "duration": "once",
        "applies_to": {"products": [our_product()]},
    }
    made = client.v1.coupons.create(params={"name": "test coupon", **terms})
    code = "TEST" + secrets.token_hex(4).upper()
    client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": made.id}, "code": code, **code_params}
    )
    return code
