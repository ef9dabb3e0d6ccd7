"""The free trial (docs/api.md, create-subscription's ``trial``) and its e-mails: the trial
reminder (``customer.subscription.trial_will_end``) and the end of a trial that was cancelled.

Nothing of stripe-python is mocked: the subscriptions are the Stripe stand-in's, what Stripe.js
does in the browser (confirming the trial's SetupIntent) is done with a separate Stripe client,
the trial's end and Stripe's reminder are the stand-in's clock helpers
(``/_config/subscriptions/<id>/end_trial`` and ``.../trial_will_end``), its events go through the
real inbox and worker task (in this process), and the mails go over SMTP to a real server
(aiosmtpd, the ``mail_server`` fixture) and are read back from its Maildir.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from billing import stripe_client, tasks
from billing.models import BillingAccount, BillingEmail, WebhookEvent
from billing.stripe_objects import object_id
from billing.tests.support import (
    SECRET,
    Worker,
    app_broker,
    dashboard_subscription,
    post_event,
    process,
    store,
    unique_user,
    wait_for,
)
from fakestripe.testing import stripe_client as stand_in

Kind = BillingEmail.Kind
Status = BillingEmail.Status

CREATE = "/api/stripe/create-subscription/"
STATUS = "/api/stripe/subscription/"
SYNC = "/api/stripe/subscription/sync/"
CANCEL = "/api/stripe/cancel-subscription/"
INVOICES = "/api/stripe/invoices/"
FIRST_ONLY = "The free trial is only for a first subscription."

pytestmark = pytest.mark.django_db(transaction=True)  # commits, so on_commit hand-offs run


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def mail_tasks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids handed to ``send_billing_email``, recorded instead of published: the tests
    run the task in this process."""
    queued: list[int] = []

    def fake_apply_async(args: Any = None, **options: Any) -> None:
        queued.append(args[0])

    monkeypatch.setattr(tasks.send_billing_email, "apply_async", fake_apply_async)
    return queued


# --- Helpers --------------------------------------------------------------------------------------


def signed_in(make_user: Any) -> tuple[Any, APIClient]:
    user = unique_user(make_user)
    client = APIClient()
    client.force_login(user)
    return user, client


def clock(fake: Any, subscription_id: str, action: str) -> dict:
    """One of the stand-in's clock helpers (``end_trial``, ``trial_will_end``)."""
    request = urllib.request.Request(
        f"{fake.url}/_config/subscriptions/{subscription_id}/{action}", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def start_trial(client: APIClient) -> dict:
    answer = client.post(CREATE, {"trial": True}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def confirm_setup(fake: Any, client_secret: str, pm: str = "pm_card_visa") -> Any:
    """What ``stripe.confirmSetup`` does in the browser with the trial's SetupIntent."""
    intent = stand_in(fake).v1.setup_intents.confirm(
        client_secret.split("_secret_")[0], params={"payment_method": pm}
    )
    assert intent.status == "succeeded"
    return intent


def stripe_events(fake: Any, customer_id: str, since: int, *types: str) -> list[dict]:
    """The stand-in's events of ``types`` about ``customer_id`` since ``since``, oldest first."""
    time.sleep(0.05)  # the stand-in records events as it acts; let the last ones land
    page = stand_in(fake).v1.events.list(params={"limit": 100, "created": {"gte": since}})
    found = []
    for event in reversed(page.data):
        data = event.to_dict()
        obj = data["data"]["object"]
        owner = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
        if object_id(owner) == customer_id and data["type"] in types:
            found.append(data)
    return found


def process_events(events: list[dict]) -> list[str]:
    fresh = [e for e in events if not WebhookEvent.objects.filter(pk=e["id"]).exists()]
    return [process(store(json.dumps(event, default=str).encode())) for event in fresh]


def send(ids: list[int]) -> list[str]:
    return [tasks.send_billing_email.apply(args=[i]).get() for i in ids]


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def day(value: int | datetime) -> str:
    """How a date reads in the mails (written out here independently of the code)."""
    when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    return when.astimezone(UTC).strftime("%B %-d, %Y")


def customer_of(user: Any) -> str:
    return str(BillingAccount.objects.get(user=user).stripe_customer_id)


# --- Starting a trial -------------------------------------------------------------------------


def test_a_trial_is_premium_at_once_then_charged_when_it_ends(stripe_ready, make_user):
    _user, client = signed_in(make_user)
    assert client.get(STATUS).json()["trial_eligible"] is True
    before = timezone.now()
    body = start_trial(client)
    assert body["status"] == "trialing" and body["premium"] is True
    assert body["intent_type"] == "setup" and body["client_secret"].startswith("seti_")
    trial_end = datetime.fromisoformat(body["trial_end"].replace("Z", "+00:00"))
    days = timedelta(days=settings.BILLING_TRIAL_DAYS)
    assert before + days - timedelta(minutes=1) <= trial_end <= timezone.now() + days
    status = client.get(STATUS).json()
    assert (status["state"], status["stripe_status"], status["premium"]) == (
        "active", "trialing", True,
    )  # fmt: skip
    assert status["trial_end"] == body["trial_end"] and status["trial_eligible"] is False
    sub = stand_in(stripe_ready).v1.subscriptions.retrieve(body["subscription_id"])
    assert sub.trial_settings.end_behavior.missing_payment_method == "cancel"
    [zero] = client.get(INVOICES).json()["results"]
    assert (zero["amount_due"], zero["status"]) == (0, "paid")  # nothing charged in the trial

    intent = confirm_setup(stripe_ready, body["client_secret"])  # the browser
    assert client.post(SYNC).status_code == 200
    sub = stand_in(stripe_ready).v1.subscriptions.retrieve(body["subscription_id"])
    assert sub.default_payment_method == intent.payment_method  # on_subscription

    clock(stripe_ready, sub.id, "end_trial")
    status = client.post(SYNC).json()
    assert (status["state"], status["stripe_status"], status["premium"]) == (
        "active", "active", True,
    )  # fmt: skip
    assert status["trial_end"] is None
    charged, zero = client.get(INVOICES).json()["results"]
    assert (charged["status"], charged["amount_paid"]) == ("paid", 2000)


def test_a_second_trial_is_refused(stripe_ready, make_user):
    user, client = signed_in(make_user)
    body = start_trial(client)
    assert client.post(CANCEL, {"at_period_end": False}, format="json").status_code == 200
    stripe_client.CALLS.clear()
    again = client.post(CREATE, {"trial": True}, format="json")
    assert again.status_code == 409, again.content
    assert again.json() == {"detail": FIRST_ONLY, "code": "trial_not_available"}
    assert stripe_client.CALLS["subscriptions.create"] == 0
    assert client.get(STATUS).json()["trial_eligible"] is False
    assert body["subscription_id"] == BillingAccount.objects.get(user=user).subscription_id


def test_no_trial_for_a_customer_who_paid_before_even_if_the_row_does_not_know_it(
    stripe_ready, make_user
):
    """A subscription made in Stripe's dashboard and ended there, whose events never came:
    Stripe's own history refuses the trial."""
    user = unique_user(make_user)
    sub = dashboard_subscription(stripe_ready, user)
    stand_in(stripe_ready).v1.subscriptions.cancel(sub.id)
    BillingAccount.objects.create(user=user, stripe_customer_id=sub.customer)
    client = APIClient()
    client.force_login(user)
    again = client.post(CREATE, {"trial": True}, format="json")
    assert again.status_code == 409 and again.json()["detail"] == FIRST_ONLY
    assert BillingAccount.objects.get(user=user).had_subscription is True


def test_no_trial_when_trials_are_off(stripe_ready, make_user, settings):
    settings.BILLING_TRIAL_DAYS = 0
    _user, client = signed_in(make_user)
    assert client.get(STATUS).json()["trial_eligible"] is False
    answer = client.post(CREATE, {"trial": True}, format="json")
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "There is no free trial at the moment.", "code": "trial_not_available",
    }  # fmt: skip


def test_the_same_trial_request_twice_is_one_trial_and_the_same_setup_secret(
    stripe_ready, make_user
):
    _user, client = signed_in(make_user)
    first = start_trial(client)
    again = client.post(CREATE, {"trial": True}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["subscription_id"] == first["subscription_id"]
    assert again.json()["client_secret"] == first["client_secret"]
    assert again.json()["intent_type"] == "setup"


def test_a_lost_trial_answer_then_a_retry_gets_that_trial_and_its_setup_secret(
    stripe_ready, make_user
):
    """Stripe made the trial but the answer was lost: the retry must neither start a second
    subscription nor call it a "second trial" (Stripe's history shows the first one)."""
    user, client = signed_in(make_user)
    stripe_ready.inject_fault("/v1/subscriptions", method="POST", action="drop")
    lost = client.post(CREATE, {"trial": True}, format="json")
    assert lost.status_code == 503
    listed = {"customer": customer_of(user), "status": "all"}
    [made] = stand_in(stripe_ready).v1.subscriptions.list(params=listed).data
    assert made.status == "trialing"

    retry = client.post(CREATE, {"trial": True}, format="json")
    assert retry.status_code == 200, retry.content
    body = retry.json()
    assert (body["subscription_id"], body["status"], body["premium"]) == (made.id, "trialing", True)
    assert body["intent_type"] == "setup" and body["client_secret"].startswith("seti_")
    assert len(stand_in(stripe_ready).v1.subscriptions.list(params=listed).data) == 1
    confirm_setup(stripe_ready, body["client_secret"])  # the card can still be given


def test_an_open_attempt_without_trial_gives_way_to_the_trial(stripe_ready, make_user):
    """A purchase started (incomplete, not paid) does not use up the trial; the open attempt
    is closed, not left beside the trial."""
    _user, client = signed_in(make_user)
    started = client.post(CREATE, {}, format="json")
    assert started.status_code == 201 and started.json()["status"] == "incomplete"
    assert started.json()["intent_type"] == "payment"
    body = start_trial(client)
    assert body["subscription_id"] != started.json()["subscription_id"]
    old = stand_in(stripe_ready).v1.subscriptions.retrieve(started.json()["subscription_id"])
    assert old.status in ("canceled", "incomplete_expired")


def test_a_trial_cancelled_ends_at_its_end_without_a_charge_and_says_so(
    stripe_ready, make_user, mail_server, mail_tasks
):
    user, client = signed_in(make_user)
    body = start_trial(client)
    confirm_setup(stripe_ready, body["client_secret"])
    since = int(time.time()) - 1
    cancelled = client.post(CANCEL, {}, format="json")  # at the period end: the trial's end
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["premium"]) == ("cancelling", True)

    clock(stripe_ready, body["subscription_id"], "end_trial")
    status = client.post(SYNC).json()
    assert (status["state"], status["premium"]) == ("cancelled", False)
    invoices = client.get(INVOICES).json()["results"]
    assert sum(i["amount_paid"] for i in invoices) == 0  # never charged

    events = stripe_events(
        stripe_ready, customer_of(user), since,
        "customer.subscription.updated", "customer.subscription.deleted",
    )  # fmt: skip
    assert set(process_events(events)) == {"done"}
    assert send(mail_tasks) == ["sent", "sent"]
    scheduled, ended = mail_server.messages()
    text, _ = parts(scheduled)
    assert "free trial is cancelled" in text and "you will not be charged." in text
    assert "charged again" not in text
    assert ended["Subject"] == "Your free trial of Premium has ended"
    text, html = parts(ended)
    assert "Your free trial of Open SEC Data Premium ended on" in text
    assert "nothing was charged" in text and "nothing was charged" in html


def test_a_trial_without_a_card_is_cancelled_at_its_end(stripe_ready, make_user):
    _user, client = signed_in(make_user)
    body = start_trial(client)  # the SetupIntent is never confirmed
    clock(stripe_ready, body["subscription_id"], "end_trial")
    status = client.post(SYNC).json()
    assert (status["state"], status["premium"]) == ("cancelled", False)
    assert sum(i["amount_paid"] for i in client.get(INVOICES).json()["results"]) == 0


# --- The reminder -------------------------------------------------------------------------------


def test_the_trial_reminder_says_the_date_the_amount_and_the_card_and_is_sent_once(
    stripe_ready, make_user, mail_server, mail_tasks
):
    user, client = signed_in(make_user)
    body = start_trial(client)
    confirm_setup(stripe_ready, body["client_secret"])
    since = int(time.time()) - 1
    clock(stripe_ready, body["subscription_id"], "trial_will_end")
    [event] = stripe_events(
        stripe_ready, customer_of(user), since, "customer.subscription.trial_will_end"
    )
    raw = json.dumps(event, default=str).encode()
    assert process(store(raw)) == "done"
    # Delivered again and replayed: the row of the first decides, no second mail.
    WebhookEvent.objects.filter(pk=event["id"]).update(status=WebhookEvent.Status.RECEIVED)
    assert process(WebhookEvent.objects.get(pk=event["id"])) == "done"
    [email] = BillingEmail.objects.filter(event_id=event["id"])
    assert (email.kind, email.status, email.to) == (Kind.TRIAL_ENDING, Status.PENDING, user.email)
    assert send(mail_tasks) == ["sent"]
    assert send([email.pk]) == ["skipped"]  # a duplicated task finds it sent

    [message] = mail_server.messages()
    ends = day(event["data"]["object"]["trial_end"])
    assert message["Subject"] == f"Your free trial of Premium ends on {ends}"
    assert message["Message-ID"] == f"<{event['id']}.trial_ending@localhost>"
    text, html = parts(message)
    assert f"Your free trial of Open SEC Data Premium ends on {ends}." in text
    assert "Then $20.00/month will be charged to Visa •••• 4242" in text
    assert f"Cancel on your account page before {ends} and you pay nothing" in text
    account = settings.SITE_URL + "/account"
    assert f"{account}\n" in text and f'href="{account}"' in html
    assert "$20.00/month" in html and "Visa •••• 4242" in html


def test_the_reminder_without_a_card_asks_for_one(stripe_ready, make_user, mail_server, mail_tasks):
    user, client = signed_in(make_user)
    body = start_trial(client)
    since = int(time.time()) - 1
    clock(stripe_ready, body["subscription_id"], "trial_will_end")
    events = stripe_events(
        stripe_ready, customer_of(user), since, "customer.subscription.trial_will_end"
    )
    assert process_events(events) == ["done"]
    assert send(mail_tasks) == ["sent"]
    text, _ = parts(mail_server.messages()[0])
    assert "You have no card on file yet" in text and "nothing is charged" in text


def test_no_reminder_for_a_trial_already_cancelled(stripe_ready, make_user, mail_tasks):
    user, client = signed_in(make_user)
    body = start_trial(client)
    assert client.post(CANCEL, {}, format="json").status_code == 200
    since = int(time.time()) - 1
    clock(stripe_ready, body["subscription_id"], "trial_will_end")
    events = stripe_events(
        stripe_ready, customer_of(user), since, "customer.subscription.trial_will_end"
    )
    assert process_events(events) == ["done"]
    [email] = BillingEmail.objects.filter(kind=Kind.TRIAL_ENDING, user=user)
    assert email.status == Status.SKIPPED and "cancelled in the trial" in email.last_error
    assert mail_tasks == []


@pytest.mark.integration
def test_the_reminder_through_the_receiver_and_a_real_worker_is_sent_once(
    own_redis, fake_stripe, stripe_ready, make_user, mail_server
):
    """The stand-in's trial_will_end event posted to the receiver five times at once, a real
    ``celery worker`` process on Redis and the test database, a real SMTP server: one mail."""
    user, client = signed_in(make_user)
    body = start_trial(client)
    confirm_setup(stripe_ready, body["client_secret"])
    since = int(time.time()) - 1
    clock(stripe_ready, body["subscription_id"], "trial_will_end")
    [event] = stripe_events(
        stripe_ready, customer_of(user), since, "customer.subscription.trial_will_end"
    )
    raw = json.dumps(event, default=str).encode()
    env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_server.port),
        "EMAIL_USE_TLS": "false",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }
    with (
        override_settings(STRIPE_WEBHOOK_SECRET=SECRET),
        app_broker(own_redis.url),
        Worker(broker=own_redis.url, fake=fake_stripe, extra_env=env),
    ):
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(lambda _: post_event(Client(), raw).status_code, range(5)))
        assert answers == [200] * 5
        sent = wait_for(
            lambda: BillingEmail.objects.filter(event_id=event["id"], status=Status.SENT).first(),
            timeout=60,
        )
        time.sleep(2)  # anything that would send twice has had its chance
    [message] = mail_server.messages()
    assert message["To"] == user.email and sent.kind == Kind.TRIAL_ENDING and sent.attempts == 1
    assert (
        message["Subject"]
        == f"Your free trial of Premium ends on {day(event['data']['object']['trial_end'])}"
    )
