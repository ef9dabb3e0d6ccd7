"""The delivery retry schedule: per endpoint (``retries`` of ``POST /_config/webhooks/<name>``)
and for every endpoint (``FAKESTRIPE_WEBHOOK_RETRIES``), against a real HTTP receiver that is
down (answers 503) for a while, as the app is in ``make chaos``."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fakestripe import testing
from fakestripe.launcher import FakeStripe


class Flaky:
    """Answers 503 for ``down_for`` seconds from the first POST, then 200; counts the POSTs.

    The outage starts with the first delivery, not when the receiver is made: the stand-in's
    start-up (a second or more on a loaded machine) must not eat into it."""

    def __init__(self, down_for: float) -> None:
        self.down_for = down_for
        self.down_until: float | None = None
        self.answers: list[int] = []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if flaky.down_until is None:
                    flaky.down_until = time.monotonic() + flaky.down_for
                status = 503 if time.monotonic() < flaky.down_until else 200
                flaky.answers.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register(fake: FakeStripe, name: str, url: str, retries: object) -> tuple[int, dict]:
    body = json.dumps({"url": url, "secret": "whsec_retries", "retries": retries}).encode()
    request = urllib.request.Request(
        f"{fake.url}/_config/webhooks/{name}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def delivery_of(
    fake: FakeStripe, target: str, event_type: str, *, attempts: int, timeout: float = 20
) -> dict:
    """The delivery log entry once it succeeded or made ``attempts`` attempts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in fake.deliveries():
            mine = entry["target"] == target and entry["type"] == event_type
            if mine and (entry["delivered"] or entry["attempts"] >= attempts):
                return entry
        time.sleep(0.1)
    raise AssertionError(f"no finished delivery of {event_type} to {target}")


def test_an_endpoint_with_a_longer_schedule_outlasts_an_outage():
    """Down for 1.5 s: the default schedule (0.5 + 1 s) would not give up yet either, so the
    endpoint's own, finer schedule is shown by the number of attempts."""
    flaky = Flaky(down_for=1.5)
    try:
        with FakeStripe(webhook_delay=0.02) as fake:
            status, body = register(fake, "flaky", flaky.url, [0.2] * 20)
            assert status == 200 and body["retries"] == [0.2] * 20
            testing.stripe_client(fake).v1.customers.create(params={"email": "r@example.com"})
            entry = delivery_of(fake, "flaky", "customer.created", attempts=21)
    finally:
        flaky.close()
    assert entry["delivered"] and entry["status"] == 200
    assert 5 <= entry["attempts"] <= 12  # every ~0.2 s through 1.5 s of 503s
    assert flaky.answers[:-1] == [503] * (entry["attempts"] - 1)


def test_the_schedule_for_every_endpoint_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FAKESTRIPE_WEBHOOK_RETRIES", "0.1,0.1")
    flaky = Flaky(down_for=60)  # never back within the schedule: it gives up after 3 tries
    try:
        with FakeStripe(webhook_delay=0.02) as fake:
            fake.register_webhook(flaky.url, "whsec_retries", name="down")
            testing.stripe_client(fake).v1.customers.create(params={"email": "e@example.com"})
            entry = delivery_of(fake, "down", "customer.created", attempts=3)
            time.sleep(0.5)  # nothing more comes
            entry = delivery_of(fake, "down", "customer.created", attempts=3)
    finally:
        flaky.close()
    assert entry["attempts"] == 3 and not entry["delivered"] and entry["status"] == 503
    assert flaky.answers == [503, 503, 503]


@pytest.mark.parametrize("retries", [["soon"], [-1], [4 * 24 * 3600], [1] * 51, "1,x", {"a": 1}])
def test_a_schedule_that_is_no_schedule_is_refused(fake, retries):
    status, body = register(fake, "bad", "http://127.0.0.1:9/never", retries)
    assert status == 400
    assert body["error"]["param"] == "retries" and "retries" in body["error"]["message"]
    assert "bad" not in [
        w["name"] for w in json.load(urllib.request.urlopen(f"{fake.url}/_config/webhooks"))
    ]
