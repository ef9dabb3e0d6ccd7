"""The runner's own parts that need no topology: when a scenario counts as passed, the lines
it prints, the pool processes it finds, the deliveries it makes (against a real HTTP server
that answers 503 first), the e-mails it counts twice (in a Maildir written by the dev mail
server over real SMTP). The whole run is `make chaos`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos import traffic
from chaos.mail import emails_count, maildir_ids
from chaos.run import Row
from chaos.scenarios import pool_processes
from chaos.traffic import Burst
from devstack.mailserver import MailServer


def good_row(**changes: object) -> Row:
    row = Row(1, "pool processes SIGKILLed x8", sent=10, acknowledged=10, stored=8, processed=8)
    row.accounts = row.accounts_matching = 5
    row.converged_seconds = 1.5
    for name, value in changes.items():
        setattr(row, name, value)
    return row


def test_a_scenario_passes_only_with_nothing_lost_twice_duplicated_or_wrong():
    assert good_row().ok
    assert "FAILED" not in good_row().line()
    for bad in (
        {"lost": 1},
        {"processed_twice": 1},
        {"emails_twice": 1},
        {"duplicates": 1},
        {"unacknowledged": 1},
        {"accounts_matching": 4},
        {"converged_seconds": None},
        {"checks": {"data API answers 200 while Redis is down": False}},
    ):
        row = good_row(**bad)
        assert not row.ok, bad
        assert row.line().endswith("FAILED")
    assert "| **0** | **0** | 0 | 5/5 | 1.5 |" in good_row().markdown()


def test_the_twice_figure_adds_the_emails_delivered_twice_to_the_events_applied_twice():
    row = good_row(processed_twice=2, emails_twice=3, emails_sent=7)
    assert row.side_effects_twice == 5
    assert "| **5** | 7 | 5/5 |" in row.markdown()
    assert "    5     7 " in row.line()


def send(port: int, message_id: str | None, to: str = "buyer@x.test") -> None:
    """One mail over SMTP to the dev mail server, as Django's SMTP backend hands it over."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "billing@localhost", to, "Receipt"
    if message_id is not None:
        message["Message-ID"] = message_id
    message.set_content("Thank you.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_an_email_delivered_twice_is_counted_once_per_message_id_when_its_copy_arrives(
    tmp_path: Path,
):
    maildir = tmp_path / "mailbox"
    with MailServer(maildir) as server:
        send(server.port, "<evt_1.receipt@localhost>")
        send(server.port, "<evt_2.receipt@localhost>")
        mark = set(maildir_ids(maildir))
        assert emails_count(maildir, before=mark).sent == 0
        # Since the mark: evt_1's receipt again (its first copy came before), evt_3's
        # cancellation three times, one new mail, one without a Message-ID.
        send(server.port, "<evt_1.receipt@localhost>")
        for _ in range(3):
            send(server.port, "<evt_3.cancellation_scheduled@localhost>")
        send(server.port, "<evt_4.receipt@localhost>")
        send(server.port, None)
        # A reader moving one copy to cur/ (with its flags) does not change the count.
        [first, *_] = sorted((maildir / "new").iterdir())
        first.rename(maildir / "cur" / f"{first.name}:2,S")
    counted = emails_count(maildir, before=mark)
    # Django's SMTP backend would add a Message-ID; the server does not: this one has none.
    assert len(maildir_ids(maildir)) == 8 and "" in maildir_ids(maildir).values()
    assert counted.sent == 6
    assert counted.twice == [
        "<evt_1.receipt@localhost>",
        "<evt_3.cancellation_scheduled@localhost>",
    ]
    assert emails_count(maildir, before=set(maildir_ids(maildir))).sent == 0
    assert emails_count(tmp_path / "no-such-maildir", before=set()).sent == 0
    # evt_3's sender was killed while it held that mail: resent by design, not done twice.
    # Three copies: two kills of its sender explain two extra copies; one kill does not.
    killed = emails_count(
        maildir, before=mark, killed_while_sending={"evt_3.cancellation_scheduled": 2, "evt_9.x": 1}
    )
    assert killed.twice == ["<evt_1.receipt@localhost>"]
    assert killed.resent == ["<evt_3.cancellation_scheduled@localhost>"]
    assert killed.sent == 6
    one_kill = {"evt_3.cancellation_scheduled": 1}
    once = emails_count(maildir, before=mark, killed_while_sending=one_kill)
    assert once.twice == ["<evt_1.receipt@localhost>", "<evt_3.cancellation_scheduled@localhost>"]
    assert once.resent == []


def test_a_resent_email_is_reported_in_the_emails_cell_and_does_not_fail_the_scenario():
    row = good_row(emails_sent=7, emails_resent=1)
    assert row.ok
    assert "| **0** | 7 (1 resent) | 5/5 |" in row.markdown()
    assert "7 (1 resent)" in row.line()
    assert not good_row(emails_sent=7, emails_resent=1, emails_twice=1).ok


def test_the_pool_processes_are_the_workers_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in pool_processes(os.getpid())
        assert pool_processes(child.pid) == []
    finally:
        child.kill()
        child.wait()


class Receiver:
    """Answers 503 (JSON) to the first ``failures`` deliveries, then 200; keeps the signatures."""

    def __init__(self, failures: int) -> None:
        self.failures, self.seen = failures, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.seen.append((body, self.headers["Stripe-Signature"]))
                down = len(receiver.seen) <= receiver.failures
                answer = b'{"code": "storage_unavailable"}' if down else b'{"received": true}'
                self.send_response(503 if down else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/stripe-webhooks/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_delivery_answered_503_is_retried_signed_until_acknowledged(monkeypatch):
    monkeypatch.setattr(traffic, "STRIPE_RETRIES", (0.05,) * 5)
    receiver = Receiver(failures=2)
    body = json.dumps({"id": "evt_1", "type": "invoice.paid"}).encode()
    try:
        burst = Burst(receiver.url, "whsec_x", [body], seconds=0.1)
        burst.start(deadline=time.monotonic() + 10)
        burst.join()
    finally:
        receiver.close()
    [delivery] = burst.deliveries
    assert delivery.answers == [503, 503, 200] and delivery.acknowledged
    assert delivery.failed_attempts == 2
    assert delivery.error_body == {"code": "storage_unavailable"}
    for sent, header in receiver.seen:  # each attempt signed, as Stripe signs
        assert sent == body
        parts = dict(item.split("=", 1) for item in header.split(","))
        expected = hmac.new(b"whsec_x", parts["t"].encode() + b"." + sent, hashlib.sha256)
        assert hmac.compare_digest(parts["v1"], expected.hexdigest())


@pytest.mark.parametrize("deadline_in", [0.0])
def test_nothing_is_sent_after_the_deadline(deadline_in):
    receiver = Receiver(failures=0)
    try:
        burst = Burst(receiver.url, "whsec_x", [b'{"id": "evt_2"}'], seconds=0.1)
        burst.start(deadline=time.monotonic() + deadline_in)
        burst.join()
    finally:
        receiver.close()
    assert burst.deliveries[0].answers == [] and receiver.seen == []
