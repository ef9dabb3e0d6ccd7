"""Billing e-mails (billing/notifications.py and their tasks in billing/tasks.py).

Real parts: Stripe's events are the stand-in's own (its renewals, cancellations and purchases,
read from its event list) and go through the real inbox and worker task in this process;
the mails go over SMTP to a real server (aiosmtpd, the ``mail_server`` fixture) and are read
back from its Maildir. Time is the one thing moved by hand (a row's ``next_attempt_at``) to
stand for the backoff having passed; test_notifications_integration.py waits for it for real
with a Celery worker.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from billing import holders, notifications, tasks
from billing.models import BillingAccount, BillingEmail, WebhookEvent
from billing.stripe_objects import object_id
from billing.tests.support import SECRET, event_body, post_event, process, store, unique_user
from config.jsonlog import JsonFormatter
from fakestripe.testing import premium_price
from fakestripe.testing import stripe_client as stand_in

Kind = BillingEmail.Kind
Status = BillingEmail.Status

pytestmark = pytest.mark.django_db(transaction=True)  # commits, so on_commit hand-offs run

CREATE = "/api/stripe/create-subscription/"


@pytest.fixture
def mail_tasks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids handed to ``send_billing_email`` (on commit, by the sweep, by the admin's
    Retry), recorded instead of published: the tests run the task in this process."""
    queued: list[int] = []

    def fake_apply_async(args: Any = None, **options: Any) -> None:
        assert options.get("retry") is False  # publishing must fail fast
        queued.append(args[0])

    monkeypatch.setattr(tasks.send_billing_email, "apply_async", fake_apply_async)
    return queued


@pytest.fixture
def webhook_tasks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event ids the admin's Replay enqueues, recorded instead of published."""
    queued: list[str] = []
    monkeypatch.setattr(
        tasks.process_webhook_event,
        "apply_async",
        lambda args=None, **options: queued.append(args[0]),
    )
    return queued


# --- Helpers ---------------------------------------------------------------------------------


def bought(fake: Any, make_user: Any, pm: str = "pm_card_visa") -> tuple[Any, Any, int]:
    """A user who bought Premium through the API: (user, subscription, a time before it)."""
    user = unique_user(make_user)
    client = APIClient()
    client.force_login(user)
    since = int(time.time()) - 1
    answer = client.post(CREATE, {"payment_method_id": pm}, format="json")
    assert answer.status_code == 201, answer.content
    return user, stand_in(fake).v1.subscriptions.retrieve(answer.json()["subscription_id"]), since


def stripe_events(fake: Any, customer_id: str, since: int, *types: str) -> list[dict]:
    """The stand-in's events of ``types`` about ``customer_id`` since ``since``, oldest first."""
    time.sleep(0.05)  # the stand-in records events as it acts; let the last ones land
    page = stand_in(fake).v1.events.list(params={"limit": 100, "created": {"gte": since}})
    found = []
    for event in reversed(page.data):  # newest first at Stripe
        data = event.to_dict()
        obj = data["data"]["object"]
        owner = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
        if object_id(owner) == customer_id and data["type"] in types:
            found.append(data)
    return found


def process_events(events: list[dict]) -> list[str]:
    """Each event through the inbox and the worker's task (this process), in order."""
    return [process(store(json.dumps(event, default=str).encode())) for event in events]


def send(ids: list[int]) -> list[str]:
    """Run the send task for each id here (as a worker would)."""
    return [tasks.send_billing_email.apply(args=[i]).get() for i in ids]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML part of a received message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def day(value: int | datetime | None) -> str:
    """How a date reads in the mails (written out here independently of the code)."""
    assert value is not None
    when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    return when.astimezone(UTC).strftime("%B %-d, %Y")


def the_email(event_id: str) -> BillingEmail:
    return BillingEmail.objects.get(event_id=event_id)


def overdue(email: BillingEmail) -> None:
    """The backoff has passed (the task's countdown would fire now)."""
    BillingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())


def site(path: str) -> str:
    return settings.SITE_URL + path


# --- Each kind, sent with its amounts, dates and links ------------------------------------------


def test_a_paid_invoice_sends_a_receipt_with_the_amount_and_the_invoice_link(
    stripe_ready, make_user, mail_server, mail_tasks
):
    user, sub, since = bought(stripe_ready, make_user)
    [paid] = stripe_events(stripe_ready, sub.customer, since, "invoice.paid")
    assert process_events([paid]) == ["done"]
    email = the_email(paid["id"])
    assert (email.kind, email.status, email.to, email.user_id) == (
        Kind.RECEIPT, Status.PENDING, user.email, user.pk,
    )  # fmt: skip
    assert mail_tasks == [email.pk]  # handed to its task once the event's work committed
    assert send(mail_tasks) == ["sent"]

    invoice = paid["data"]["object"]
    [message] = mail_server.messages()
    assert message["To"] == user.email
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["Subject"] == "Your receipt from Open SEC Data: $20.00"
    assert message["Message-ID"] == f"<{paid['id']}.receipt@localhost>"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    paid_on = day(invoice["status_transitions"]["paid_at"])
    period = invoice["lines"]["data"][0]["period"]
    sentence = (
        f"We received $20.00 on {paid_on} for Open SEC Data Premium, "
        f"for {day(period['start'])} to {day(period['end'])}."
    )
    assert sentence in text
    link = invoice["hosted_invoice_url"] or site("/account")
    assert link in text and f'href="{link}"' in html
    assert "$20.00" in html and paid_on in html
    email.refresh_from_db()
    assert email.status == Status.SENT and email.attempts == 1 and email.sent_at


def test_the_receipt_links_to_stripes_hosted_invoice_and_escapes_what_it_shows(
    stripe_ready, make_user, mail_server, mail_tasks
):
    """What the payload says is shown escaped, and only an http(s) URL becomes a link."""
    _user, sub, _ = bought(stripe_ready, make_user)
    hosted = "https://invoice.stripe.com/i/acct_1/test_YWNjdF8x?s=ap"
    body = event_body(
        "invoice.paid",
        {"id": "in_hosted", "object": "invoice", "customer": sub.customer, "amount_paid": 2000,
         "currency": "usd", "number": "<b>A-1</b>", "hosted_invoice_url": hosted,
         "status_transitions": {"paid_at": 1796083200}},  # 2026-12-01
    )  # fmt: skip
    javascript = event_body(
        "invoice.paid",
        {"id": "in_js", "object": "invoice", "customer": sub.customer, "amount_paid": 150,
         "currency": "eur", "hosted_invoice_url": "javascript:alert(1)"},
    )  # fmt: skip
    assert process(store(body)) == "done" and process(store(javascript)) == "done"
    assert send(mail_tasks) == ["sent", "sent"]
    first, second = mail_server.messages()
    text, html = parts(first)
    assert f"{hosted}\n" in text and f'href="{hosted.replace("&", "&amp;")}"' in html
    assert "We received $20.00 on December 1, 2026" in text
    assert "Invoice <b>A-1</b>." in text  # plain text is not HTML
    assert "Invoice &lt;b&gt;A-1&lt;/b&gt;" in html and "<b>A-1</b>" not in html
    assert second["Subject"] == "Your receipt from Open SEC Data: €1.50"
    text, html = parts(second)
    assert "javascript:" not in text + html
    assert site("/account") in text


def test_a_failed_renewal_says_the_amount_the_next_try_and_links_to_the_account(
    stripe_ready, make_user, mail_server, mail_tasks
):
    user, sub, _ = bought(stripe_ready, make_user)
    since = int(time.time()) - 1
    stripe_ready.fail_renewal(sub.id)
    [failed] = stripe_events(stripe_ready, sub.customer, since, "invoice.payment_failed")
    assert process_events([failed]) == ["done"]
    email = the_email(failed["id"])
    assert (email.kind, email.status) == (Kind.PAYMENT_FAILED, Status.PENDING)
    assert send(mail_tasks) == ["sent"]

    [message] = mail_server.messages()
    assert message["Subject"] == ("Your payment of $20.00 failed: update your card to keep Premium")
    text, html = parts(message)
    retry_on = failed["data"]["object"]["next_payment_attempt"]
    assert retry_on is not None  # Stripe's smart retries: the stand-in sets the next try
    assert f"Your payment of $20.00 failed. We will try again on {day(retry_on)}." in text
    premium_until = BillingAccount.objects.get(user=user).premium_until
    assert f"You keep Premium until {day(premium_until)}." in text  # the past_due grace
    assert f"{site('/account')}\n" in text and f'href="{site("/account")}"' in html


def test_a_renewal_needing_authentication_sends_only_the_action_required_mail(
    stripe_ready, make_user, mail_server, mail_tasks
):
    """Stripe sends invoice.payment_action_required *and* invoice.payment_failed: one mail,
    whichever event is processed first (the rule reads the invoice's PaymentIntent)."""
    _user, sub, _ = bought(stripe_ready, make_user)
    client = stand_in(stripe_ready)
    card = client.v1.payment_methods.attach(
        "pm_card_authenticationRequired", params={"customer": sub.customer}
    )
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": card.id})
    since = int(time.time()) - 1
    stripe_ready.renew(sub.id)
    events = stripe_events(
        stripe_ready, sub.customer, since,
        "invoice.payment_action_required", "invoice.payment_failed",
    )  # fmt: skip
    assert [e["type"] for e in events] == [
        "invoice.payment_action_required", "invoice.payment_failed",
    ]  # fmt: skip
    assert process_events(list(reversed(events))) == ["done", "done"]  # the failure first

    failed = the_email(events[1]["id"])
    assert (failed.kind, failed.status) == (Kind.PAYMENT_FAILED, Status.SKIPPED)
    assert "needs authentication" in failed.last_error
    action = the_email(events[0]["id"])
    assert (action.kind, action.status) == (Kind.ACTION_REQUIRED, Status.PENDING)
    assert mail_tasks == [action.pk]
    assert send(mail_tasks) == ["sent"]

    [message] = mail_server.messages()
    invoice_id = events[0]["data"]["object"]["id"]
    assert message["Subject"] == "Please confirm your payment of $20.00 to keep Premium"
    text, html = parts(message)
    confirm = site(f"/account/confirm-payment?invoice={invoice_id}")
    assert f"{confirm}\n" in text and f'href="{confirm}"' in html
    assert "$20.00" in text and "3-D Secure" in text


def test_scheduling_the_cancellation_sends_the_end_date_and_resuming_sends_nothing(
    stripe_ready, make_user, mail_server, mail_tasks
):
    _user, sub, _ = bought(stripe_ready, make_user)
    client = stand_in(stripe_ready)
    since = int(time.time()) - 1
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})  # resumed
    events = [
        event
        for event in stripe_events(
            stripe_ready, sub.customer, since, "customer.subscription.updated"
        )
        if "cancel_at_period_end" in event["data"]["previous_attributes"]
    ]
    assert [e["data"]["previous_attributes"]["cancel_at_period_end"] for e in events] == [
        False, True,
    ]  # fmt: skip
    assert process_events(events) == ["done", "done"]
    assert [e.kind for e in BillingEmail.objects.all()] == [Kind.CANCELLATION_SCHEDULED]
    assert send(mail_tasks) == ["sent"]

    [message] = mail_server.messages()
    ends = events[0]["data"]["object"]["items"]["data"][0]["current_period_end"]
    assert message["Subject"] == f"Your Premium subscription ends on {day(ends)}"
    text, html = parts(message)
    assert f"it ends on {day(ends)}." in text and "will not be charged again" in text
    assert site("/account") in text and day(ends) in html


def test_the_end_of_a_paid_subscription_says_premium_ended(
    stripe_ready, make_user, mail_server, mail_tasks
):
    _user, sub, _ = bought(stripe_ready, make_user)
    since = int(time.time()) - 1
    stand_in(stripe_ready).v1.subscriptions.cancel(sub.id)  # in Stripe's dashboard
    [deleted] = stripe_events(stripe_ready, sub.customer, since, "customer.subscription.deleted")
    assert process_events([deleted]) == ["done"]
    assert send(mail_tasks) == ["sent"]
    [message] = mail_server.messages()
    assert message["Subject"] == "Your Premium subscription has ended"
    text, html = parts(message)
    ended = deleted["data"]["object"]["ended_at"]
    assert f"Premium subscription ended on {day(ended)}." in text
    assert site("/premium") in text and f'href="{site("/premium")}"' in html


def test_a_purchase_given_up_sends_no_premium_ended_and_no_payment_failed(
    stripe_ready, make_user, mail_server, mail_tasks
):
    """A declined first payment: the app cancels the unpaid subscription. Premium never
    started, and the page showed the decline: nothing to mail."""
    user = unique_user(make_user)
    client = APIClient()
    client.force_login(user)
    since = int(time.time()) - 1
    # Attached fine, declined when charged (Stripe's charge-only decline).
    answer = client.post(CREATE, {"payment_method_id": "pm_card_chargeCustomerFail"}, format="json")
    assert answer.status_code == 402
    customer = BillingAccount.objects.get(user=user).stripe_customer_id
    events = stripe_events(
        stripe_ready, customer, since, "invoice.payment_failed", "customer.subscription.deleted"
    )
    assert {e["type"] for e in events} == {
        "invoice.payment_failed", "customer.subscription.deleted",
    }  # fmt: skip
    assert set(process_events(events)) == {"done"}
    [row] = BillingEmail.objects.all()
    assert (row.kind, row.status) == (Kind.SUBSCRIPTION_ENDED, Status.SKIPPED)
    assert "never paid" in row.last_error
    assert mail_tasks == [] and mail_server.messages() == []


def test_no_receipt_for_a_zero_amount_invoice(stripe_ready, make_user, mail_server, mail_tasks):
    user = unique_user(make_user)
    client = stand_in(stripe_ready)
    free = premium_price(client, amount=0)
    customer = client.v1.customers.create(
        params={"email": user.email, "metadata": {"user_id": str(user.pk)}}
    )
    since = int(time.time()) - 1
    client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": free.id}],
                "metadata": {"user_id": str(user.pk)}}
    )  # fmt: skip
    [paid] = stripe_events(stripe_ready, customer.id, since, "invoice.paid")
    assert paid["data"]["object"]["amount_paid"] == 0
    assert process_events([paid]) == ["done"]
    assert BillingAccount.objects.get(user=user).stripe_customer_id == customer.id  # adopted
    assert not BillingEmail.objects.exists()
    assert mail_tasks == [] and mail_server.messages() == []


def test_no_mail_without_an_account_and_a_skipped_row_without_an_address(
    stripe_ready, make_user, mail_server, mail_tasks
):
    user, sub, since = bought(stripe_ready, make_user)
    get_user_model().objects.filter(pk=user.pk).update(email="")
    [paid] = stripe_events(stripe_ready, sub.customer, since, "invoice.paid")
    stray = event_body("invoice.paid", {**paid["data"]["object"], "customer": "cus_nobody"})
    assert process_events([paid]) == ["done"] and process(store(stray)) == "done"
    [row] = BillingEmail.objects.all()
    assert (row.event_id, row.status, row.last_error) == (
        paid["id"], Status.SKIPPED, "the user has no e-mail address",
    )  # fmt: skip
    assert mail_tasks == []


# --- Exactly once ------------------------------------------------------------------------------


def test_a_duplicate_webhook_delivery_sends_one_mail(
    stripe_ready, make_user, mail_server, mail_tasks
):
    _user, sub, since = bought(stripe_ready, make_user)
    [paid] = stripe_events(stripe_ready, sub.customer, since, "invoice.paid")
    body = json.dumps(paid, default=str).encode()
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        answers = [post_event(Client(), body).status_code for _ in range(3)]
        event = WebhookEvent.objects.get(pk=paid["id"])
        assert process(event) == "done"
        assert process(event) == "skipped"  # the worker's task delivered twice
        again = post_event(Client(), body)  # Stripe delivers once more, after it is done
    assert answers == [200, 200, 200] and again.json()["duplicate"] is True
    assert send(mail_tasks) == ["sent"]
    assert BillingEmail.objects.count() == 1 and len(mail_server.messages()) == 1


def test_duplicated_and_redelivered_send_tasks_send_one_mail(
    stripe_ready, make_user, mail_server, mail_tasks
):
    _user, sub, since = bought(stripe_ready, make_user)
    process_events(stripe_events(stripe_ready, sub.customer, since, "invoice.paid"))
    [email_id] = mail_tasks
    results: list[str] = []

    def run() -> None:
        results.append(tasks.send_billing_email.apply(args=[email_id]).get())

    threads = [threading.Thread(target=run) for _ in range(6)]  # six copies at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["sent"] + ["skipped"] * 5
    assert send([email_id, email_id]) == ["skipped", "skipped"]  # duplicates coming later
    email = BillingEmail.objects.get(pk=email_id)
    assert email.status == Status.SENT and email.attempts == 1
    assert len(mail_server.messages()) == 1


def test_an_admin_replay_of_the_event_sends_nothing_again(
    stripe_ready, make_user, mail_server, mail_tasks, webhook_tasks, admin_client
):
    _user, sub, since = bought(stripe_ready, make_user)
    [paid] = stripe_events(stripe_ready, sub.customer, since, "invoice.paid")
    process_events([paid])
    assert send(mail_tasks) == ["sent"]
    answer = admin_client.post(
        "/admin/billing/webhookevent/",
        {"action": "replay", "_selected_action": [paid["id"]]},
        follow=True,
    )
    assert "1 of 1 event(s) enqueued again" in answer.content.decode()
    assert webhook_tasks == [paid["id"]]
    assert process(WebhookEvent.objects.get(pk=paid["id"])) == "done"  # applied again
    assert len(mail_tasks) == 1  # ... but no new mail was asked for
    assert BillingEmail.objects.count() == 1 and len(mail_server.messages()) == 1


# --- A mail server that is down ------------------------------------------------------------------


def test_a_mail_server_that_is_down_is_retried_with_backoff_then_the_mail_goes_out(
    stripe_ready, make_user, mail_server, mail_tasks, admin_client
):
    user, sub, since = bought(stripe_ready, make_user)
    process_events(stripe_events(stripe_ready, sub.customer, since, "invoice.paid"))
    [email_id] = mail_tasks
    mail_server.stop()

    before = timezone.now()
    send([email_id])
    email = BillingEmail.objects.get(pk=email_id)
    assert (email.status, email.attempts) == (Status.PENDING, 1)
    assert email.last_error.startswith("ConnectionRefusedError")
    first_wait = (email.next_attempt_at - before).total_seconds()
    assert 59 <= first_wait <= 62  # BILLING_EMAIL_RETRY_SECONDS
    # Visible in the admin as failing, with the error.
    page = admin_client.get("/admin/billing/billingemail/?status__exact=pending").content.decode()
    assert "ConnectionRefusedError" in page and user.email in page

    assert send([email_id]) == ["skipped"]  # a copy of the task before the backoff: nothing
    overdue(email)
    before = timezone.now()
    send([email_id])
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.PENDING, 2)
    assert 119 <= (email.next_attempt_at - before).total_seconds() <= 122  # doubled

    mail_server.start()  # back, on the same port
    overdue(email)
    assert send([email_id]) == ["sent"]
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.SENT, 3, "")
    assert len(mail_server.messages()) == 1


def test_out_of_attempts_it_is_failed_and_the_admins_retry_sends_it(
    stripe_ready, make_user, mail_server, mail_tasks, admin_client
):
    _user, sub, since = bought(stripe_ready, make_user)
    process_events(stripe_events(stripe_ready, sub.customer, since, "invoice.paid"))
    [email_id] = mail_tasks
    mail_server.stop()
    with override_settings(BILLING_EMAIL_MAX_ATTEMPTS=2):
        send([email_id])
        overdue(BillingEmail.objects.get(pk=email_id))
        assert send([email_id]) == ["failed"]
    email = BillingEmail.objects.get(pk=email_id)
    assert (email.status, email.attempts) == (Status.FAILED, 2)
    page = admin_client.get("/admin/billing/billingemail/?status__exact=failed").content.decode()
    assert "ConnectionRefusedError" in page

    mail_server.start()
    answer = admin_client.post(
        "/admin/billing/billingemail/",
        {"action": "retry", "_selected_action": [email_id]},
        follow=True,
    )
    assert "1 of 1 e-mail(s) enqueued again" in answer.content.decode()
    assert mail_tasks == [email_id, email_id]
    assert send([email_id]) == ["sent"]
    # A sent mail is never retried by the admin's action.
    admin_client.post(
        "/admin/billing/billingemail/", {"action": "retry", "_selected_action": [email_id]}
    )
    assert mail_tasks == [email_id, email_id] and len(mail_server.messages()) == 1


def test_the_sweep_enqueues_lost_mails_and_fails_interrupted_ones(db, user, mail_tasks):
    now = timezone.now()
    lost = BillingEmail.objects.create(
        event_id="evt_lost", kind=Kind.RECEIPT, user=user, to=user.email, subject="s",
        next_attempt_at=now - settings.BILLING_EMAIL_SWEEP_AFTER - timedelta(seconds=5),
    )  # fmt: skip
    waiting = BillingEmail.objects.create(
        event_id="evt_waiting", kind=Kind.RECEIPT, user=user, to=user.email, subject="s",
        next_attempt_at=now + timedelta(minutes=5),  # its task's countdown is running
    )  # fmt: skip
    interrupted = BillingEmail.objects.create(
        event_id="evt_cut", kind=Kind.RECEIPT, user=user, to=user.email, subject="s",
        status=Status.SENDING, attempts=1,
        status_changed_at=now - settings.BILLING_EMAIL_STALE_AFTER - timedelta(seconds=5),
    )  # fmt: skip
    assert tasks.sweep_billing_emails.apply().get() == 1
    assert mail_tasks == [lost.pk]
    assert tasks.sweep_billing_emails.apply().get() == 0  # touched: not taken twice
    interrupted.refresh_from_db()
    assert interrupted.status == Status.FAILED and "may have been" in interrupted.last_error
    waiting.refresh_from_db()
    assert waiting.status == Status.PENDING


def test_the_smtp_password_stays_out_of_the_row_and_the_logs(
    stripe_ready, make_user, mail_server, mail_tasks, caplog, monkeypatch
):
    """The dev server offers no AUTH without TLS, so a login fails: the error names the
    server's answer, never the password; JSON log lines redact its value anyway."""
    password = "smtp-Pa55word-never-logged"
    _user, sub, since = bought(stripe_ready, make_user)
    process_events(stripe_events(stripe_ready, sub.customer, since, "invoice.paid"))
    caplog.set_level(logging.INFO)
    with override_settings(EMAIL_HOST_USER="billing", EMAIL_HOST_PASSWORD=password):
        send(mail_tasks)
    email = BillingEmail.objects.get(pk=mail_tasks[0])
    assert email.status == Status.PENDING and "AUTH" in email.last_error
    assert password not in email.last_error and password not in caplog.text
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", password)
    record = logging.LogRecord("probe", logging.ERROR, __file__, 1, "login %s", (password,), None)
    assert password not in JsonFormatter().format(record)


# --- Pure pieces ---------------------------------------------------------------------------------


def test_the_task_names_queued_messages_and_beat_use() -> None:
    """Queued messages and the beat schedule name the tasks: the names never change."""
    assert tasks.send_billing_email.name == "billing.send_billing_email"
    assert tasks.sweep_billing_emails.name == "billing.sweep_billing_emails"
    beat = settings.CELERY_BEAT_SCHEDULE["billing-sweep-emails"]
    assert beat["task"] == tasks.sweep_billing_emails.name
    assert beat["schedule"] < settings.BILLING_EMAIL_SWEEP_AFTER  # every overdue mail is seen


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(2000, "usd", "$20.00"), (123456, "eur", "€1,234.56"), (500, "jpy", "500 JPY"),
     (999, "chf", "9.99 CHF"), (0, "gbp", "£0.00")],
)  # fmt: skip
def test_money_format(amount: int, currency: str, shown: str) -> None:
    assert notifications.money_format(amount=amount, currency=currency) == shown


def test_backoff_doubles_up_to_the_cap() -> None:
    with override_settings(BILLING_EMAIL_RETRY_SECONDS=60, BILLING_EMAIL_RETRY_MAX_SECONDS=600):
        waits = [notifications.email_backoff(attempts=n) for n in range(1, 7)]
    assert waits == [60, 120, 240, 480, 600, 600]


def test_only_a_recipient_refused_for_good_is_permanent() -> None:
    import smtplib

    assert notifications.email_error_permanent(
        smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")})
    )
    assert not notifications.email_error_permanent(
        smtplib.SMTPRecipientsRefused({"a@example.com": (451, b"try later")})
    )
    assert not notifications.email_error_permanent(ConnectionRefusedError())


# --- Who holds a ``sending`` claim (billing/holders.py) ------------------------------------


def _dead_process() -> str:
    """The holder token of a process that ran and has ended (a real child of this one)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = holders._process(child.pid)
        assert token and not holders.process_gone(token)  # it runs: not gone
    finally:
        child.kill()
        child.wait()
    return token


def _held(user: Any, *, task_id: str, process: str) -> BillingEmail:
    """A receipt a delivery claimed a moment ago (well within BILLING_EMAIL_STALE_AFTER)."""
    return BillingEmail.objects.create(
        event_id=f"evt_{task_id}", kind=Kind.RECEIPT, user=user, to=user.email, subject="s",
        status=Status.SENDING, attempts=1, claimed_by=task_id, claimed_process=process,
        context={"amount": "$20.00"},
    )  # fmt: skip


def test_a_sending_mail_held_by_a_dead_delivery_is_taken_back_by_its_redelivery_at_once(
    user, mail_server
):
    # The broker of these tests (Redis, visibility 600 s) lets the task record its id.
    assert holders.redeliveries_cannot_overlap(tasks.send_billing_email)
    email = _held(user, task_id="delivery-1", process=_dead_process())
    other = tasks.send_billing_email.apply(args=[email.pk], task_id="delivery-2").get()
    assert other == "skipped"  # another task id: not its claim, whatever its process
    email.refresh_from_db()
    assert (email.status, email.claimed_by) == (Status.SENDING, "delivery-1")

    again = tasks.send_billing_email.apply(args=[email.pk], task_id="delivery-1").get()
    assert again == "sent"  # the same id: the earlier delivery is over, no stale wait
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.SENT, 2)
    assert email.claimed_by == "delivery-1"
    assert email.claimed_process == holders.current_process()
    [message] = mail_server.messages()
    assert message["Message-ID"] == f"<{email.event_id}.receipt@{notifications._sender_domain()}>"


def test_a_database_down_after_the_relay_took_the_mail_records_it_without_sending_again(
    user, mail_server, monkeypatch
):
    # Mocked: no stand-in can take PostgreSQL away between the SMTP answer and the next
    # statement; the task's real retry (eager, same task id) runs against the real database.
    from django.db import OperationalError

    email = _held(user, task_id="", process=holders.current_process())
    BillingEmail.objects.filter(pk=email.pk).update(status=Status.PENDING, claimed_by="")
    real_sent = notifications.email_sent
    calls: list[int] = []

    def sent_once_down(mail: BillingEmail) -> None:
        calls.append(mail.pk)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        real_sent(mail)

    monkeypatch.setattr(notifications, "email_sent", sent_once_down)
    tasks.send_billing_email.apply(args=[email.pk], task_id="delivery-7")
    email.refresh_from_db()
    # _held counted one earlier attempt, this run's claim the second; the retry claims nothing.
    assert email.status == Status.SENT and email.attempts == 2
    assert len(mail_server.messages()) == 1  # delivered once, recorded by the retry
    assert calls == [email.pk]  # the retry recorded it without a second delivery attempt


def test_sent_is_recorded_between_the_relays_250_and_quit(user, tmp_path, monkeypatch):
    # The window in which a killed worker leaves a delivered mail unrecorded (and so sends it
    # again) is one database write: QUIT's round trip comes after `sent` is stored. A real
    # SMTP server (aiosmtpd) notes DATA and QUIT; email_sent is wrapped, not replaced.
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    order: list[str] = []

    class Noting(Mailbox):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            order.append("relay took it")
            return await super().handle_DATA(server, session, envelope)

        async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
            order.append("QUIT")
            return "221 Bye"

    for sub in ("tmp", "new", "cur"):
        (tmp_path / "box" / sub).mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Controller(Noting(tmp_path / "box"), hostname="127.0.0.1", port=port)
    server.start()
    real_sent = notifications.email_sent

    def noted_sent(mail: BillingEmail) -> None:
        real_sent(mail)
        order.append(f"row {BillingEmail.objects.get(pk=mail.pk).status}")

    monkeypatch.setattr(notifications, "email_sent", noted_sent)
    email = BillingEmail.objects.create(
        event_id="evt_window", kind=Kind.RECEIPT, user=user, to=user.email, subject="s",
        context={"amount": "$20.00"},
    )  # fmt: skip
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="", EMAIL_TIMEOUT=5,
        ):  # fmt: skip
            assert tasks.send_billing_email.apply(args=[email.pk]).get() == "sent"
    finally:
        server.stop()
    assert order == ["relay took it", "row sent", "QUIT"]


def test_mail_settings_that_cannot_make_a_connection_fail_the_mail_with_their_reason(user):
    email = BillingEmail.objects.create(
        event_id="evt_settings", kind=Kind.RECEIPT, user=user, to=user.email, subject="s",
        context={"amount": "$20.00"},
    )  # fmt: skip
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1", EMAIL_USE_TLS=True, EMAIL_USE_SSL=True,
    ):  # fmt: skip
        assert tasks.send_billing_email.apply(args=[email.pk]).get() == "failed"
    email.refresh_from_db()
    assert email.status == Status.FAILED  # not left "sending" for the sweep to misreport
    assert "EMAIL_USE_TLS/EMAIL_USE_SSL are mutually exclusive" in email.last_error


def test_a_claim_records_no_task_id_when_redeliveries_could_overlap(user, settings):
    email = _held(user, task_id="delivery-1", process=holders.current_process())
    # A visibility timeout shorter than a run plus a countdown: the id proves nothing.
    conf = tasks.send_billing_email.app.conf
    saved = conf.broker_transport_options
    conf.broker_transport_options = {**(saved or {}), "visibility_timeout": 300}
    try:
        assert holders.task_holder(tasks.send_billing_email).task_id == ""
        result = tasks.send_billing_email.apply(args=[email.pk], task_id="delivery-1").get()
    finally:
        conf.broker_transport_options = saved
    assert result == "skipped"
    email.refresh_from_db()
    assert email.status == Status.SENDING


def test_the_sweep_and_a_starting_worker_send_again_what_a_dead_process_left_sending(
    user, mail_tasks
):
    dead = _held(user, task_id="", process=_dead_process())
    alive = _held(user, task_id="delivery-live", process=holders.current_process())
    elsewhere = _held(user, task_id="delivery-far", process="otherhost/boot:1/123/456")
    assert tasks.webhook_inbox_recover() == 0  # (webhook events: none)
    assert mail_tasks == [dead.pk]
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (Status.PENDING, 1)
    assert dead.next_attempt_at <= timezone.now()
    for row in (alive, elsewhere):  # a live holder, and one nobody can judge from here
        row.refresh_from_db()
        assert row.status == Status.SENDING

    again = _held(user, task_id="delivery-x", process=_dead_process())
    assert tasks.sweep_billing_emails.apply().get() == 1
    assert mail_tasks == [dead.pk, again.pk]
    assert tasks.sweep_billing_emails.apply().get() == 0  # taken once


def test_a_dead_process_on_every_attempt_ends_failed(user, mail_tasks):
    email = _held(user, task_id="", process=_dead_process())
    BillingEmail.objects.filter(pk=email.pk).update(attempts=settings.BILLING_EMAIL_MAX_ATTEMPTS)
    assert notifications.emails_due() == []
    email.refresh_from_db()
    assert email.status == Status.FAILED and "worker process is gone" in email.last_error


def test_the_send_task_never_waits_in_the_broker_past_its_visibility_timeout():
    task = tasks.send_billing_email
    assert task.retry_backoff and task.retry_backoff_max == tasks.RETRY_BACKOFF_MAX <= 300
    assert set(tasks.DATABASE_DOWN) <= set(task.autoretry_for)
    conf = SimpleNamespace(
        broker_url="redis://r:6379/0", broker_transport_options={"visibility_timeout": 600}
    )
    view = SimpleNamespace(
        app=SimpleNamespace(conf=conf), time_limit=task.time_limit,
        retry_backoff=task.retry_backoff, retry_backoff_max=task.retry_backoff_max,
        default_retry_delay=task.default_retry_delay,
    )  # fmt: skip
    assert holders.redeliveries_cannot_overlap(view)


def test_a_backoff_longer_than_the_cap_is_left_to_the_sweep(user, mail_server, mail_tasks):
    email = BillingEmail.objects.create(
        event_id="evt_long", kind=Kind.RECEIPT, user=user, to=user.email, subject="s"
    )
    mail_server.stop()
    with override_settings(BILLING_EMAIL_RETRY_SECONDS=tasks.RETRY_BACKOFF_MAX + 1):
        before = timezone.now()
        result = tasks.send_billing_email.apply(args=[email.pk])
    # Returned, not retried: no countdown longer than the cap waits in the broker.
    assert result.get() == "pending" and result.state == "SUCCESS"
    email.refresh_from_db()
    assert email.status == Status.PENDING
    assert (email.next_attempt_at - before).total_seconds() >= tasks.RETRY_BACKOFF_MAX + 1
    with override_settings(BILLING_EMAIL_SWEEP_AFTER=timedelta(0)):
        assert notifications.emails_due(now=email.next_attempt_at + timedelta(seconds=1)) == [
            email.pk
        ]
