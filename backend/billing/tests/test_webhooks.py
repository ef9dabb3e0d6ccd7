"""The receiver, ``POST /api/stripe-webhooks/``: verify, store, wake a worker, answer — nothing
more; and its short path in front of Django (config/wsgi.py), which must answer the same.

The wake-up goes to a real Redis (the mark) and is recorded instead of published; the
filesystem broker of ``make run`` gets real message files; the broker-down case publishes to
a real but dead Redis address; storage failures are a real lock held by another database
connection. The worker and real brokers end to end are in ``test_tasks_integration.py`` and
``test_webhook_handoff.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import stripe
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import DatabaseError, close_old_connections, connection
from django.test import Client, override_settings

from billing import stripe_client, tasks
from billing.inbox import ADD_FIELDS, inbox_add
from billing.models import WebhookEvent
from billing.tests.support import (
    OLD_SECRET,
    SECRET,
    URL,
    app_broker,
    event_body,
    post_event,
    sign,
)
from billing.webhooks import Rejected, event_verify, stripe_webhook
from config import wsgi
from devstack.processes import free_port

SUBSCRIPTION = {
    "id": "sub_test_1",
    "object": "subscription",
    "customer": "cus_test_1",
    "status": "active",
    "metadata": {"user_id": "1"},
    "items": {"object": "list", "data": []},
}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("webhook_secrets"),
]


@pytest.fixture
def webhook_secrets():
    with override_settings(
        STRIPE_WEBHOOK_SECRET=f"{SECRET}, {OLD_SECRET}", STRIPE_WEBHOOK_TOLERANCE=300
    ):
        yield


@pytest.fixture
def client():
    """CSRF checks on, as for a browser: the receiver must not need a token."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def wake_marks(redis_url: str) -> Iterator[redis.Redis]:
    """The broker's Redis, read directly: where the receiver sets its wake-up mark."""
    client = redis.Redis.from_url(redis_url)
    client.delete(tasks.WAKE_KEY)
    try:
        yield client
    finally:
        client.delete(tasks.WAKE_KEY)  # other tests share this Redis


@pytest.fixture
def woken(
    redis_url: str, wake_marks: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """The app's broker is a real Redis, where the receiver sets its wake-up mark; the drain
    it would then publish is recorded (the event id that woke it), not sent."""
    wakes: list[str] = []

    def record(*args: Any, **options: Any) -> None:
        assert options.get("retry") is False  # publishing must fail fast
        wakes.append(wake_marks.get(tasks.WAKE_KEY).decode())

    monkeypatch.setattr(tasks.drain_webhook_inbox, "apply_async", record)
    with app_broker(redis_url):
        yield wakes


@pytest.fixture
def drain_started(wake_marks: redis.Redis) -> Callable[[], None]:
    """What a drain does first: clear the mark, so that the next event wakes another."""
    return lambda: wake_marks.delete(tasks.WAKE_KEY)


def deliver(client, body, header=None, capture=None):
    if capture is None:
        return post_event(client, body, header)
    with capture(execute=True):
        return post_event(client, body, header)


# --- Accepted ---------------------------------------------------------------------------


def test_signed_event_is_stored_and_a_worker_woken_on_commit(
    client, woken, django_capture_on_commit_callbacks
):
    body = event_body("customer.subscription.updated", SUBSCRIPTION, event_id="evt_ok_1")
    stripe_client.CALLS.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_event(client, body)
    assert response.status_code == 200
    assert response.json() == {"received": True, "id": "evt_ok_1", "status": "received"}
    assert woken == []  # only once the row is committed...
    for callback in callbacks:
        callback()
    assert woken == ["evt_ok_1"]  # ...and then exactly once
    row = WebhookEvent.objects.get(pk="evt_ok_1")
    assert row.type == "customer.subscription.updated"
    assert row.status == WebhookEvent.Status.RECEIVED
    assert row.payload == json.loads(body)
    assert row.api_version == "2026-08-26.dahlia"
    assert row.livemode is False
    assert row.created is not None and row.received_at is not None
    assert row.status_changed_at is not None and row.last_error == ""
    assert row.attempts == 0 and row.processed_at is None
    assert sum(stripe_client.CALLS.values()) == 0  # the request never calls Stripe


def test_duplicate_event_is_stored_once_and_wakes_nobody(
    client, woken, drain_started, django_capture_on_commit_callbacks
):
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}, event_id="evt_dup")
    first = deliver(client, body, capture=django_capture_on_commit_callbacks)
    drain_started()  # so that only the duplicate itself could wake anyone
    # Stripe redelivers with a fresh signature timestamp.
    second = deliver(client, body, sign(body, timestamp=int(time.time()) + 1),
                     capture=django_capture_on_commit_callbacks)  # fmt: skip
    assert first.status_code == second.status_code == 200
    assert second.json() == {
        "received": True, "id": "evt_dup", "status": "received", "duplicate": True
    }  # fmt: skip
    assert WebhookEvent.objects.filter(pk="evt_dup").count() == 1
    assert woken == ["evt_dup"]


def test_a_duplicate_is_answered_with_the_events_current_status(client, woken):
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}, event_id="evt_seen")
    post_event(client, body)
    WebhookEvent.objects.filter(pk="evt_seen").update(status=WebhookEvent.Status.DONE)
    again = post_event(client, body)
    assert again.json()["status"] == "done" and again.json()["duplicate"] is True
    assert WebhookEvent.objects.get(pk="evt_seen").status == WebhookEvent.Status.DONE


def test_unknown_type_is_stored_as_ignored_and_wakes_nobody(
    client, woken, django_capture_on_commit_callbacks
):
    body = event_body("charge.refunded", {"id": "ch_1", "object": "charge"}, event_id="evt_unk")
    response = deliver(client, body, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert WebhookEvent.objects.get(pk="evt_unk").status == WebhookEvent.Status.IGNORED
    assert woken == []


def test_a_burst_wakes_the_workers_once_until_a_drain_starts(
    client, woken, drain_started, django_capture_on_commit_callbacks
):
    """The hand-off's saving: one Redis command per event, one message per burst."""
    for n in range(5):
        body = event_body("invoice.paid", {"id": f"in_{n}", "customer": "c"}, event_id=f"evt_b{n}")
        assert deliver(client, body, capture=django_capture_on_commit_callbacks).status_code == 200
    assert woken == ["evt_b0"]
    drain_started()
    body = event_body("invoice.paid", {"id": "in_9", "customer": "c"}, event_id="evt_b9")
    deliver(client, body, capture=django_capture_on_commit_callbacks)
    assert woken == ["evt_b0", "evt_b9"]
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).count() == 6


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_both_secrets_are_accepted_during_a_rotation(
    client, woken, secret, django_capture_on_commit_callbacks
):
    body = event_body("customer.subscription.created", SUBSCRIPTION)
    response = deliver(client, body, sign(body, secret), capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert woken == [response.json()["id"]]


def test_after_the_rotation_the_old_secret_is_refused(client, woken):
    body = event_body("customer.subscription.created", SUBSCRIPTION)
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        response = post_event(client, body, sign(body, OLD_SECRET))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()


def test_small_clock_skew_into_the_future_is_accepted(client, woken):
    body = event_body("customer.subscription.created", SUBSCRIPTION)
    response = post_event(client, body, sign(body, timestamp=int(time.time()) + 120))
    assert response.status_code == 200


def test_make_runs_filesystem_broker_gets_a_message_per_event(
    client, tmp_path, django_capture_on_commit_callbacks
):
    """No Redis, no mark: each stored event is one real message file of the task."""
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),  # kombu's default: ./control
    }
    bodies = [event_body("invoice.paid", {"id": f"in_{n}", "customer": "c"}) for n in range(2)]
    with app_broker("filesystem://", options):
        for body in bodies:
            assert (
                deliver(client, body, capture=django_capture_on_commit_callbacks).status_code == 200
            )
    messages = [json.loads(path.read_text()) for path in folder.iterdir()]
    assert sorted(m["headers"]["task"] for m in messages) == ["billing.process_webhook_event"] * 2
    assert sorted(m["headers"]["argsrepr"] for m in messages) == sorted(
        f"('{json.loads(b)['id']}',)" for b in bodies
    )


# --- Refused: 400, nothing stored ---------------------------------------------------------


def _refused(response, code):
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert not WebhookEvent.objects.exists()


def test_missing_signature_header_is_400(client, woken):
    _refused(post_event(client, event_body("invoice.paid", {"id": "in_1"}), ""),
             "missing_signature")  # fmt: skip
    assert woken == []


def test_forged_signature_is_400(client, woken):
    body = event_body("invoice.paid", {"id": "in_1"})
    _refused(post_event(client, body, sign(body, "whsec_someone_else")), "invalid_signature")


def test_garbage_signature_header_is_400(client, woken):
    body = event_body("invoice.paid", {"id": "in_1"})
    for header in ("t=abc,v1=zz", "nonsense", "t=1", "v1=abc", "t,v1", "t=1,v1=\u00e9\u00e9"):
        _refused(post_event(client, body, header), "invalid_signature")


def test_tampered_body_is_400(client, woken):
    body = event_body("customer.subscription.updated", SUBSCRIPTION)
    header = sign(body)
    tampered = body.replace(b'"active"', b'"trialing"')
    assert tampered != body
    _refused(post_event(client, tampered, header), "invalid_signature")


def test_stale_timestamp_is_400(client, woken):
    body = event_body("invoice.paid", {"id": "in_1"})
    _refused(post_event(client, body, sign(body, timestamp=int(time.time()) - 301)),
             "timestamp_out_of_tolerance")  # fmt: skip


def test_future_timestamp_beyond_the_tolerance_is_400(client, woken):
    """stripe-python bounds only the past; we bound both sides (see billing.webhooks)."""
    body = event_body("invoice.paid", {"id": "in_1"})
    header = sign(body, timestamp=int(time.time()) + 3600)
    assert stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=300)
    _refused(post_event(client, body, header), "timestamp_out_of_tolerance")


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b'{"id": "evt_1", "type": "invoice.paid"', b"[1, 2, 3]",
     b'{"object": "event", "data": {"object": {}}}', b'"a string"',
     b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": []}}',
     b'{"id": "", "type": "invoice.paid", "data": {"object": {}}}',
     b'{"id": "evt_%s", "type": "invoice.paid", "data": {"object": {}}}' % (b"x" * 300),
     b"[" * 100_000 + b"]" * 100_000],
    ids=["text", "cut", "list", "no-id", "string", "object-list", "empty-id", "long-id", "deep"],
)  # fmt: skip
def test_unparsable_or_not_an_event_body_is_400(client, woken, body):
    _refused(post_event(client, body, sign(body)), "invalid_payload")


def test_non_utf8_body_is_400(client, woken):
    body = b"\xff\xfe{}"
    header = f"t={int(time.time())},v1={'0' * 64}"
    _refused(post_event(client, body, header), "invalid_payload")


def test_sign_helper_matches_stripe_python():
    """support.sign is fakestripe's signature: what stripe-python itself makes."""
    body = event_body("invoice.paid", {"id": "in_1"})
    ts = int(time.time())
    expected = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, ts)
    assert sign(body, SECRET, ts) == expected


def _headers_to_compare(body: bytes) -> list[str]:
    now = int(time.time())
    good = sign(body, SECRET, now).split(",")[1]
    other = sign(body, "whsec_other", now).split(",")[1]
    return [
        f"t={now},{good}", f"t={now},{other},{good}", f"t={now},{other}",
        f"t={now},v0={good[3:]}", f"{good},t={now}", f"t={now}, {good}", f"t= {now},{good}",
        f"t={now},{good.upper()}", f"t={now},t={now},{good}", f"t={now},t,{good}",
        f"t=0{now},{good}", f"t={now}.0,{good}", f"t={now},{good}=x", f"t={now},{good},v1",
        "", ",", "t=", f"t={now}",
    ]  # fmt: skip


def test_the_signature_check_agrees_with_stripe_python():
    """One HMAC check of our own instead of stripe-python's (which also builds a StripeObject
    of the whole event): accepts and refuses exactly the headers stripe-python does."""
    body = event_body("invoice.paid", {"id": "in_1"})
    for header in _headers_to_compare(body):
        try:
            stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=None)
            theirs = True
        except stripe.SignatureVerificationError:
            theirs = False
        try:
            event_verify(body, header)
            ours = True
        except Rejected as exc:
            assert exc.code in ("invalid_signature", "missing_signature"), (header, exc.code)
            ours = False
        assert ours == theirs, header


# --- Storage and broker failures ---------------------------------------------------------


@contextlib.contextmanager
def inbox_locked() -> Iterator[None]:
    """Another connection holds the inbox table locked, and ours gives up after 0.2 s: the
    real "database is locked" / lock timeout of a busy or stuck database."""
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    db = connection.settings_dict
    holder: Any
    if connection.vendor == "sqlite":
        holder = sqlite3.connect(db["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        options["timeout"] = 0.2
    else:
        import psycopg2

        holder = psycopg2.connect(
            dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
        )  # fmt: skip
        holder.cursor().execute(f"LOCK TABLE {WebhookEvent._meta.db_table} IN SHARE MODE")
        options["options"] = "-c lock_timeout=200"
    connection.close()  # the next query connects with the short timeout
    try:
        yield
    finally:
        holder.rollback()
        holder.close()
        options.clear()
        options.update(saved)
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_cannot_store_is_503_so_stripe_retries(client, woken):
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"})
    with inbox_locked():
        started = time.monotonic()
        response = post_event(client, body)
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert elapsed < 5
    assert woken == []
    assert not WebhookEvent.objects.exists()
    assert post_event(client, body).status_code == 200  # Stripe's retry, the lock gone


def test_broker_down_still_answers_200_fast_and_keeps_the_event(
    client, caplog, django_capture_on_commit_callbacks
):
    """A real wake-up on a Redis address nobody listens on: fails fast, logged, stored."""
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}, event_id="evt_nobroker")
    with app_broker(f"redis://127.0.0.1:{free_port()}/0"), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        response = deliver(client, body, capture=django_capture_on_commit_callbacks)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 5, elapsed
    assert WebhookEvent.objects.get(pk="evt_nobroker").status == WebhookEvent.Status.RECEIVED
    assert "not enqueued" in caplog.text


def test_get_is_not_allowed(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"


# --- The inbox insert -------------------------------------------------------------------------


def test_the_insert_writes_every_column_of_the_inbox():
    """inbox_add is raw SQL: a column added to WebhookEvent must be added to it too."""
    assert set(ADD_FIELDS) == {f.name for f in WebhookEvent._meta.concrete_fields}


def test_the_payload_is_stored_as_sent():
    body = event_body("invoice.paid", {"id": "in_1", "amount": 1.5, "note": "caf\u00e9 \u2603"})
    assert inbox_add(
        event_id="evt_raw", event_type="invoice.paid", payload_json=body.decode(),
        livemode=True, api_version="v", created=None, status="received",
    )  # fmt: skip
    row = WebhookEvent.objects.get(pk="evt_raw")
    assert row.payload == json.loads(body) and row.livemode is True and row.created is None
    if connection.vendor == "sqlite":  # PostgreSQL's jsonb keeps the value, not the text
        with connection.cursor() as cursor:
            cursor.execute("SELECT payload FROM billing_webhookevent WHERE id = 'evt_raw'")
            assert cursor.fetchone()[0] == body.decode()


def test_a_failed_insert_leaves_the_callers_transaction_usable():
    """Inside a transaction the insert has a savepoint: a duplicate key is no error at all,
    and a real failure (a payload the database refuses) does not poison what follows."""
    assert inbox_add(event_id="evt_t", event_type="t", payload_json="{}", livemode=False,
                     api_version="", created=None, status="received")  # fmt: skip
    assert not inbox_add(event_id="evt_t", event_type="other", payload_json="{}", livemode=False,
                         api_version="", created=None, status="ignored")  # fmt: skip
    with pytest.raises(DatabaseError):  # SQLite: IntegrityError, PostgreSQL: DataError
        inbox_add(event_id="evt_bad", event_type="t", payload_json="not json", livemode=False,
                  api_version="", created=None, status="received")  # fmt: skip
    assert WebhookEvent.objects.get(pk="evt_t").type == "t"
    assert not WebhookEvent.objects.filter(pk="evt_bad").exists()


# --- The short path in front of Django (config/wsgi.py) ----------------------------------------


def environ(body: bytes, header: str | None, **extra: Any) -> dict[str, Any]:
    """A WSGI request to the receiver, as gunicorn hands it over."""
    env = {
        "REQUEST_METHOD": "POST", "PATH_INFO": URL, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
    }  # fmt: skip
    if header is not None:
        env["HTTP_STRIPE_SIGNATURE"] = header
    env.update(extra)
    return env


def call(app: Any, env: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run a WSGI application the way a server does (closing the answer: request_finished)."""
    started: list[Any] = []
    answer = app(env, lambda status, headers, exc_info=None: started.extend([status, headers]))
    try:
        content = b"".join(answer)
    finally:
        answer.close()
    return int(started[0].split()[0]), sorted(started[1]), content


def handlers() -> tuple[Any, Any]:
    """The short path and Django's full handler, made now: middleware reads its settings
    when it is made (as gunicorn's workers do at start)."""
    return wsgi.WebhookHandler(stripe_webhook), WSGIHandler()


def both(make_env: Any) -> tuple[Any, Any]:
    """The same request through the short path and through Django's full handler."""
    short, full = handlers()
    return call(short, make_env()), call(full, make_env())


def _signed(event_type="invoice.paid", secret=SECRET, skew=0):
    def make() -> dict[str, Any]:
        body = event_body(event_type, {"id": "in_1", "customer": "cus_1"})
        return environ(body, sign(body, secret, int(time.time()) + skew))

    return make


def _raw(body: bytes, header: str | None = "sign", **extra: Any):
    return lambda: environ(body, sign(body) if header == "sign" else header, **extra)


#: case -> (the request, settings for it, the status both paths must answer)
PARITY: dict[str, tuple[Any, dict[str, Any], int]] = {
    "accepted": (_signed(), {}, 200),
    "ignored type": (_signed("charge.refunded"), {}, 200),
    "missing signature": (_raw(b"{}", None), {}, 400),
    "forged": (_signed(secret="whsec_someone_else"), {}, 400),
    "garbage header": (_raw(b"{}", "t=1,v1=\u00e9"), {}, 400),
    "stale": (_signed(skew=-400), {}, 400),
    "future": (_signed(skew=400), {}, 400),
    "not json": (_raw(b"not json"), {}, 400),
    "not an event": (_raw(b"[1]"), {}, 400),
    "not utf-8": (_raw(b"\xff\xfe", "t=1,v1=00"), {}, 400),
    "not configured": (_signed(), {"STRIPE_WEBHOOK_SECRET": ""}, 503),
    "too big": (_signed(), {"DATA_UPLOAD_MAX_MEMORY_SIZE": 100}, 413),
    "host not allowed": (lambda: {**_signed()(), "HTTP_HOST": "evil.example"}, {}, 400),
    "https redirect": (_signed(), {"SECURE_SSL_REDIRECT": True}, 301),
    "https, HSTS": (
        lambda: {**_signed()(), "HTTP_X_FORWARDED_PROTO": "https"},
        {
            "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
            "SECURE_HSTS_SECONDS": 3600,
        },
        200,
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(PARITY))
def test_the_short_path_answers_what_django_answers(case, woken, caplog):
    """Status, headers and body, byte for byte (event ids aside), and the same log lines."""
    make_env, overrides, expected = PARITY[case]
    with override_settings(**overrides), caplog.at_level(logging.INFO):
        short_handler, full_handler = handlers()
        short = call(short_handler, make_env())
        short_logs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
        caplog.clear()
        full = call(full_handler, make_env())
        full_logs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    (status, headers, content), (full_status, full_headers, full_content) = short, full
    assert status == full_status == expected
    assert headers == full_headers
    names = {name for name, _ in headers}
    if case not in ("host not allowed", "https redirect"):  # answered before the view
        assert {"X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} <= names
    assert ("Strict-Transport-Security" in names) is (case == "https, HSTS")
    if status == 200:
        short_body, full_body = json.loads(content), json.loads(full_content)
        assert short_body.pop("id") != full_body.pop("id")
        assert short_body == full_body
        assert WebhookEvent.objects.count() == 2
    else:
        assert content == full_content
        assert not WebhookEvent.objects.exists()
        codes = {"too big": "body_too_large", "host not allowed": "host_not_allowed"}
        if case in codes:  # JSON with a sentence, like every other refusal (handler400)
            answer = json.loads(content)
            assert answer["code"] == codes[case] and answer["detail"].endswith(".")
    assert short_logs == full_logs


@pytest.mark.django_db(transaction=True)
def test_the_short_path_answers_storage_failures_like_django(woken):
    env = _signed()
    with inbox_locked():
        short, full = both(env)
    assert short[0] == full[0] == 503
    assert short[1:] == full[1:]


@pytest.mark.django_db(transaction=True)
def test_the_short_path_answers_duplicates_like_django(woken):
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"})
    assert call(wsgi.application, environ(body, sign(body)))[0] == 200
    short, full = both(lambda: environ(body, sign(body)))
    assert short == full
    assert json.loads(short[2])["duplicate"] is True


@pytest.mark.django_db(transaction=True)
def test_only_a_post_to_the_receiver_takes_the_short_path(woken, monkeypatch):
    taken: list[str] = []
    short = wsgi.webhook_application

    def spy(env: dict[str, Any], start_response: Any) -> Any:
        taken.append(f"{env['REQUEST_METHOD']} {env['PATH_INFO']}")
        return short(env, start_response)

    monkeypatch.setattr(wsgi, "webhook_application", spy)
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"})
    assert call(wsgi.application, environ(body, sign(body)))[0] == 200
    get = call(wsgi.application, environ(b"", None, REQUEST_METHOD="GET"))
    assert get[0] == 405 and ("Allow", "POST") in get[1]
    elsewhere = call(wsgi.application, environ(body, sign(body), PATH_INFO=URL + "x/"))
    assert elsewhere[0] == 403  # Django's CSRF check: the full path ran
    assert taken == [f"POST {URL}"]


def test_the_short_path_skips_only_middleware_decided_on():
    """A middleware added to the settings must be decided on in config/wsgi.py: does the
    webhook's answer need it? These are skipped on purpose: they act on sessions, CSRF
    (the view is exempt), signed-in users, messages and sign-in pages only."""
    skipped = [m for m in settings.MIDDLEWARE if m not in wsgi.WEBHOOK_MIDDLEWARE]
    assert set(settings.MIDDLEWARE) >= wsgi.WEBHOOK_MIDDLEWARE
    assert skipped == [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "accounts.middleware.SocialAuthErrorRedirectMiddleware",
        "axes.middleware.AxesMiddleware",
    ]
    assert wsgi.WEBHOOK_PATH == URL


# --- Concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_copies_are_stored_once_and_wake_once(woken):
    """Ten threads deliver the same event at once through the short path: one row, one 200
    without ``duplicate``, nine duplicates, one wake-up."""
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"}, event_id="evt_10x")
    barrier = threading.Barrier(10)
    answers: list[dict[str, Any]] = []

    def deliver_one() -> None:
        try:
            barrier.wait()
            status, _, content = call(wsgi.application, environ(body, sign(body)))
            assert status == 200
            answers.append(json.loads(content))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=deliver_one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 10
    assert sum(1 for a in answers if not a.get("duplicate")) == 1
    assert WebhookEvent.objects.filter(pk="evt_10x").count() == 1
    assert woken == ["evt_10x"]
