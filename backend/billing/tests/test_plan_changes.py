"""Changing plans (billing/plan_changes.py; docs/api.md, "Changing plans"): the preview, monthly →
yearly now with the prorated charge, a declined or 3-D Secure upgrade, yearly → monthly at the end
of the paid year and its renewal, cancelling the change, the status object's plan fields, the
webhooks of subscription schedules, and the errors.

Nothing of stripe-python is mocked: the app's calls reach the offline Stripe stand-in over HTTP;
the stand-in's own helpers move time on (``renew``, ``fail_renewal``) and answer 3-D Secure as
the browser would (``authenticate``); what "Stripe's dashboard" does is done with a separate
Stripe client; Stripe's events are taken from the stand-in and run through the real inbox and
task (``store`` + ``process``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from billing import events, plan_changes, plans, stripe_client, throttling
from billing.models import BillingAccount, WebhookEvent
from billing.stripe_objects import object_id
from billing.tests.support import (
    account_of,
    make_code,
    our_product,
    process,
    store,
    unique_user,
)
from fakestripe.testing import stripe_client as stand_in

CREATE = "/api/stripe/create-subscription/"
STATUS = "/api/stripe/subscription/"
SYNC = "/api/stripe/subscription/sync/"
CANCEL = "/api/stripe/cancel-subscription/"
CARD = "/api/stripe/payment-method/"
INVOICES = "/api/stripe/invoices/"
PREVIEW = "/api/stripe/subscription/preview-change/"
CHANGE = "/api/stripe/subscription/change/"
CANCEL_CHANGE = "/api/stripe/subscription/cancel-change/"
MONTHLY_KEY = "opensecdata_premium_monthly"
YEARLY_KEY = "opensecdata_premium_yearly"


@pytest.fixture(autouse=True)
def fresh_rate_limits(db: Any) -> None:
    """The throttles count per user and per address in the shared cache."""
    cache.clear()


# --- Helpers ------------------------------------------------------------------------------------


def signed_in(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def subscriber(
    fake: Any, make_user: Any, price: str = MONTHLY_KEY, pm: str = "pm_card_visa"
) -> tuple[Any, APIClient, Any]:
    """A user who bought Premium at ``price`` through the API: (user, client, subscription)."""
    user = unique_user(make_user)
    client = signed_in(user)
    bought = client.post(CREATE, {"payment_method_id": pm, "price": price}, format="json")
    assert bought.status_code == 201, bought.content
    assert bought.json()["premium"] is True
    return user, client, stand_in(fake).v1.subscriptions.retrieve(bought.json()["subscription_id"])


def price_of(fake: Any, sub_id: str) -> str:
    return stand_in(fake).v1.subscriptions.retrieve(sub_id)["items"].data[0].price.id


def monthly() -> plans.PriceInfo:
    return plans.prices_get()[0]


def yearly() -> plans.PriceInfo:
    return plans.prices_get()[1]


def invoices_at_stripe(fake: Any, customer_id: str) -> list[Any]:
    return list(
        stand_in(fake).v1.invoices.list(params={"customer": customer_id, "limit": 100}).data
    )


def stripe_events(fake: Any, customer_id: str, since: int, prefix: str) -> list[dict]:
    """The stand-in's events of ``prefix`` types about ``customer_id`` since ``since``, oldest
    first (as JSON)."""
    page = stand_in(fake).v1.events.list(params={"limit": 100, "created": {"gte": since}})
    found = []
    for event in reversed(page.data):  # the list is newest first
        data = event.to_dict()
        obj = data["data"]["object"]
        if object_id(obj.get("customer")) == customer_id and data["type"].startswith(prefix):
            found.append(data)
    return found


def process_events(found: list[dict]) -> list[str]:
    """Each event through the inbox and the worker's task (in this process), in order."""
    fresh = [e for e in found if not WebhookEvent.objects.filter(pk=e["id"]).exists()]
    return [process(store(json.dumps(event, default=str).encode())) for event in fresh]


# --- The status object -----------------------------------------------------------------------


def test_the_status_object_carries_the_plan(stripe_ready, make_user):
    user, client, _sub = subscriber(stripe_ready, make_user)
    status = client.get(STATUS).json()
    assert status["price"] == monthly().as_dict()
    assert status["interval"] == "month"
    assert status["scheduled_change"] is None
    assert status["trial_end"] is None
    assert status["trial_eligible"] is False  # had a subscription
    account = account_of(user)
    assert account.had_subscription is True
    # /api/account/ embeds the same object.
    assert client.get("/api/account/").json()["subscription"] == status


# --- Monthly -> yearly: now, charged the prorated difference ----------------------------------


def test_monthly_to_yearly_charges_exactly_the_preview(stripe_ready, make_user):
    _user, client, sub = subscriber(stripe_ready, make_user)
    # Half of the month used (the stand-in's clock: the period moved 15 days back), so the
    # credit is a real proration, not the whole month.
    stripe_ready.backdate(sub.id, 15 * 86400)
    preview = client.post(PREVIEW, {"price": YEARLY_KEY}, format="json")
    assert preview.status_code == 200, preview.content
    shown = preview.json()
    assert shown["timing"] == "now"
    assert shown["price"] == yearly().as_dict()
    assert abs(shown["proration_date"] - time.time()) < 60
    assert shown["currency"] == "usd"
    # The full yearly price less a credit for the unused half of the month (USD 10, give or
    # take the month's length: 28 to 31 days).
    assert 20000 - 1100 <= shown["amount_due"] <= 20000 - 900
    assert sum(line["amount"] for line in shown["lines"]) == shown["amount_due"]
    credits = [line for line in shown["lines"] if line["proration"]]
    assert credits and all(line["amount"] < 0 for line in credits)
    assert price_of(stripe_ready, sub.id) == monthly().id  # a preview changes nothing

    changed = client.post(
        CHANGE, {"price": yearly().id, "proration_date": shown["proration_date"]}, format="json"
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["invoice"]["status"] == "paid"
    assert body["invoice"]["amount_paid"] == shown["amount_due"]  # charged == previewed
    assert body["invoice"]["client_secret"] is None
    assert body["subscription"]["price"] == yearly().as_dict()
    assert body["subscription"]["interval"] == "year"
    assert body["subscription"]["premium"] is True
    assert price_of(stripe_ready, sub.id) == yearly().id
    # The invoices list shows that charge first, with the same amount.
    listed = client.get(INVOICES).json()["results"]
    assert listed[0]["id"] == body["invoice"]["id"]
    assert listed[0]["amount_paid"] == listed[0]["amount_due"] == shown["amount_due"]
    # GET subscription/ reads the row: yearly, without asking Stripe.
    stripe_client.CALLS.clear()
    assert client.get(STATUS).json() == body["subscription"]
    assert sum(stripe_client.CALLS.values()) == 0
    # Changing again to yearly is the same plan.
    again = client.post(CHANGE, {"price": YEARLY_KEY}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "same_plan")


def test_a_declined_upgrade_changes_nothing_and_leaves_nothing_open(stripe_ready, make_user):
    _user, client, sub = subscriber(stripe_ready, make_user)
    # The card on file now fails every charge (it attaches fine).
    assert (
        client.post(
            CARD, {"payment_method_id": "pm_card_chargeCustomerFail"}, format="json"
        ).status_code
        == 200
    )
    before = {inv.id for inv in invoices_at_stripe(stripe_ready, sub.customer)}
    declines = throttling.declines_recent()
    declined = client.post(CHANGE, {"price": YEARLY_KEY}, format="json")
    assert declined.status_code == 402, declined.content
    assert declined.json()["code"] == "card_declined"
    assert throttling.declines_recent() == declines + 1  # the card-testing brake counts it
    assert "declined" in declined.json()["detail"]
    fresh = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id)
    assert fresh["items"].data[0].price.id == monthly().id
    assert fresh.pending_update is None
    assert fresh.status == "active"
    attempt = [
        inv for inv in invoices_at_stripe(stripe_ready, sub.customer) if inv.id not in before
    ]
    assert [inv.status for inv in attempt] == ["void"]  # made, refused, voided: nothing open
    status = client.get(STATUS).json()
    assert (status["interval"], status["state"], status["payment_problem"]) == (
        "month", "active", None,
    )  # fmt: skip
    # A good card afterwards upgrades (the decline is not replayed).
    assert (
        client.post(CARD, {"payment_method_id": "pm_card_visa"}, format="json").status_code == 200
    )
    upgraded = client.post(CHANGE, {"price": YEARLY_KEY}, format="json")
    assert upgraded.status_code == 200, upgraded.content
    assert upgraded.json()["subscription"]["interval"] == "year"


def test_an_upgrade_needing_3d_secure_waits_for_the_browser(stripe_ready, make_user):
    _user, client, sub = subscriber(stripe_ready, make_user)
    assert (
        client.post(
            CARD, {"payment_method_id": "pm_card_authenticationRequired"}, format="json"
        ).status_code
        == 200
    )
    changed = client.post(CHANGE, {"price": YEARLY_KEY}, format="json")
    assert changed.status_code == 200, changed.content
    invoice = changed.json()["invoice"]
    assert invoice["status"] == "open" and invoice["client_secret"]
    assert changed.json()["subscription"]["interval"] == "month"  # not before it is paid
    assert price_of(stripe_ready, sub.id) == monthly().id
    # The browser: stripe.handleNextAction({clientSecret}) -> the bank's challenge -> passed.
    secret = invoice["client_secret"]
    stripe_ready.authenticate(secret.split("_secret_")[0], secret, success=True)
    synced = client.post(SYNC).json()
    assert synced["interval"] == "year"
    assert price_of(stripe_ready, sub.id) == yearly().id
    listed = client.get(INVOICES).json()["results"]
    assert (listed[0]["id"], listed[0]["status"]) == (invoice["id"], "paid")
    assert listed[0]["amount_paid"] == invoice["amount_due"]


# --- Yearly -> monthly: at the end of the paid year ---------------------------------------


def test_yearly_to_monthly_is_scheduled_and_the_renewal_charges_monthly(stripe_ready, make_user):
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    period_end = client.get(STATUS).json()["current_period_end"]
    preview = client.post(PREVIEW, {"price": MONTHLY_KEY}, format="json")
    assert preview.status_code == 200, preview.content
    shown = preview.json()
    assert (shown["timing"], shown["effective_at"], shown["amount_due"]) == (
        "period_end", period_end, 2000,
    )  # fmt: skip
    assert shown["price"] == monthly().as_dict()
    assert [line["proration"] for line in shown["lines"]] == [False]

    before = len(invoices_at_stripe(stripe_ready, sub.customer))
    # The client sends the preview's proration_date back, as for a change now.
    changed = client.post(
        CHANGE, {"price": MONTHLY_KEY, "proration_date": shown["proration_date"]}, format="json"
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["invoice"] is None  # nothing charged now
    assert len(invoices_at_stripe(stripe_ready, sub.customer)) == before
    assert body["subscription"]["interval"] == "year"  # still yearly until then
    assert body["subscription"]["scheduled_change"] == {
        "price": monthly().as_dict(),
        "interval": "month",
        "effective_at": period_end,
    }
    schedule = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id).schedule
    assert (
        schedule
        and stand_in(stripe_ready).v1.subscription_schedules.retrieve(schedule).end_behavior
        == "release"
    )
    stripe_client.CALLS.clear()
    assert client.get(STATUS).json() == body["subscription"]  # stored: no Stripe call
    assert sum(stripe_client.CALLS.values()) == 0
    same = client.post(PREVIEW, {"price": MONTHLY_KEY}, format="json")
    assert (same.status_code, same.json()["detail"]) == (409, "This change is already scheduled.")

    # The year ends: the renewal switches to monthly and charges USD 20.
    stripe_ready.renew(sub.id)
    renewed = client.post(SYNC).json()
    assert renewed["price"] == monthly().as_dict()
    assert renewed["interval"] == "month"
    assert renewed["scheduled_change"] is None
    assert renewed["premium"] is True
    latest = client.get(INVOICES).json()["results"][0]
    assert (latest["status"], latest["amount_paid"]) == ("paid", 2000)


def test_cancelling_the_scheduled_change_keeps_yearly(stripe_ready, make_user):
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    assert client.post(CHANGE, {"price": MONTHLY_KEY}, format="json").status_code == 200
    undone = client.post(CANCEL_CHANGE)
    assert undone.status_code == 200, undone.content
    assert undone.json()["scheduled_change"] is None
    assert undone.json()["interval"] == "year"
    assert stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id).schedule is None
    again = client.post(CANCEL_CHANGE)
    assert (again.status_code, again.json()["code"]) == (409, "no_scheduled_change")
    stripe_ready.renew(sub.id)
    renewed = client.post(SYNC).json()
    assert renewed["interval"] == "year"
    assert client.get(INVOICES).json()["results"][0]["amount_paid"] == 20000
    # It can be scheduled again after being cancelled (a new schedule).
    rescheduled = client.post(CHANGE, {"price": MONTHLY_KEY}, format="json")
    assert rescheduled.status_code == 200, rescheduled.content
    assert rescheduled.json()["subscription"]["scheduled_change"]["interval"] == "month"


def test_cancelling_the_subscription_releases_a_scheduled_change(stripe_ready, make_user):
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    assert client.post(CHANGE, {"price": MONTHLY_KEY}, format="json").status_code == 200
    cancelled = client.post(CANCEL, {}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["state"] == "cancelling"
    assert cancelled.json()["scheduled_change"] is None
    fresh = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id)
    assert fresh.schedule is None and fresh.cancel_at_period_end is True
    # Cancelling: no plan change until resumed.
    refused = client.post(PREVIEW, {"price": MONTHLY_KEY}, format="json")
    assert refused.status_code == 409
    assert refused.json() == {"detail": "Resume your subscription first.", "code": "not_changeable"}


def test_schedule_webhooks_bring_a_dashboard_change_to_the_row(stripe_ready, make_user):
    assert {"subscription_schedule.created", "subscription_schedule.updated",
            "subscription_schedule.released"} <= events.HANDLED_TYPES  # fmt: skip
    user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    since = int(time.time()) - 1
    dashboard = stand_in(stripe_ready)
    schedule = dashboard.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    phase = schedule.phases[0]
    dashboard.v1.subscription_schedules.update(
        schedule.id,
        params={
            "end_behavior": "release",
            "phases": [
                {"items": [{"price": yearly().id}], "start_date": phase.start_date,
                 "end_date": phase.end_date},
                {"items": [{"price": monthly().id}], "duration": {"interval": "month"}},
            ],
        },
    )  # fmt: skip
    assert account_of(user).scheduled_price is None  # the app has not heard yet
    found = stripe_events(stripe_ready, sub.customer, since, "subscription_schedule.")
    assert [e["type"] for e in found] == [
        "subscription_schedule.created", "subscription_schedule.updated",
    ]  # fmt: skip
    assert process_events(found) == ["done", "done"]
    status = client.get(STATUS).json()
    assert status["scheduled_change"]["price"]["id"] == monthly().id
    assert status["scheduled_change"]["effective_at"] == status["current_period_end"]

    dashboard.v1.subscription_schedules.release(schedule.id)
    released = stripe_events(stripe_ready, sub.customer, since, "subscription_schedule.released")
    assert process_events(released) == ["done"]
    assert client.get(STATUS).json()["scheduled_change"] is None


# --- Whose subscription ------------------------------------------------------------------------


def test_a_change_only_ever_touches_the_callers_own_subscription(stripe_ready, make_user):
    owner, owner_client, owner_sub = subscriber(stripe_ready, make_user)
    owner_row = {
        name: getattr(account_of(owner), name)
        for name in ("subscription_id", "price", "schedule_id", "premium_until", "synced_at")
    }
    _other, other_client, other_sub = subscriber(stripe_ready, make_user)
    stranger = signed_in(unique_user(make_user))
    stripe_ready.clear_requests_log()

    # There is no id to give: a body naming the owner's subscription is just ignored.
    assert (
        other_client.post(
            CHANGE, {"price": YEARLY_KEY, "subscription": owner_sub.id}, format="json"
        ).status_code
        == 200
    )
    assert (
        other_client.post(
            CHANGE, {"price": MONTHLY_KEY, "subscription_id": owner_sub.id}, format="json"
        ).status_code
        == 200
    )  # yearly -> monthly, scheduled
    assert (
        other_client.post(
            CANCEL_CHANGE, {"subscription_id": owner_sub.id}, format="json"
        ).status_code
        == 200
    )
    for path in (PREVIEW, CHANGE):
        answer = stranger.post(
            path, {"price": YEARLY_KEY, "subscription": owner_sub.id}, format="json"
        )
        assert (answer.status_code, answer.json()["code"]) == (404, "no_subscription")
    assert stranger.post(CANCEL_CHANGE).json()["code"] == "no_scheduled_change"

    touched = json.dumps(stripe_ready.requests_log())
    assert owner_sub.id not in touched and owner_sub.customer not in touched
    assert other_sub.id in touched
    assert price_of(stripe_ready, owner_sub.id) == monthly().id
    assert stand_in(stripe_ready).v1.subscriptions.retrieve(owner_sub.id).schedule is None
    assert {name: getattr(account_of(owner), name) for name in owner_row} == owner_row
    assert owner_client.get(STATUS).json()["interval"] == "month"


# --- Errors ----------------------------------------------------------------------------------


def test_what_cannot_change_and_why(stripe_ready, make_user):
    nobody = signed_in(unique_user(make_user))
    for path in (PREVIEW, CHANGE):
        answer = nobody.post(path, {"price": YEARLY_KEY}, format="json")
        assert answer.json() == {"detail": "You have no subscription.", "code": "no_subscription"}
    assert nobody.post(CANCEL_CHANGE).status_code == 409

    _user, client, sub = subscriber(stripe_ready, make_user)
    other_product = stand_in(stripe_ready).v1.products.create(params={"name": "Other"})
    foreign = stand_in(stripe_ready).v1.prices.create(
        params={"product": other_product.id, "unit_amount": 100, "currency": "usd",
                "recurring": {"interval": "year"}}
    )  # fmt: skip
    stripe_ready.clear_requests_log()
    for value in (foreign.id, "price_unknown000", "yearly please", 20000, None, ""):
        for path in (PREVIEW, CHANGE):
            answer = client.post(path, {"price": value}, format="json")
            assert answer.status_code == 400, (value, answer.content)
            expected = "null" if value is None else "invalid_price"
            assert answer.json()["code"] == expected, answer.json()
    assert client.post(CHANGE, {}, format="json").json()["code"] == "required"
    assert [e for e in stripe_ready.requests_log() if e["method"] == "POST"] == []

    same = client.post(PREVIEW, {"price": MONTHLY_KEY}, format="json")
    assert same.json() == {"detail": "You are already on this plan.", "code": "same_plan"}
    stale = client.post(
        CHANGE, {"price": YEARLY_KEY, "proration_date": int(time.time()) - 7200}, format="json"
    )
    assert (stale.status_code, stale.json()["code"]) == (400, "preview_expired")
    future = client.post(
        CHANGE, {"price": YEARLY_KEY, "proration_date": int(time.time()) + 86400}, format="json"
    )
    assert future.json()["code"] == "preview_expired"
    word = client.post(CHANGE, {"price": YEARLY_KEY, "proration_date": "soon"}, format="json")
    assert (word.status_code, word.json()["code"]) == (400, "invalid")
    assert price_of(stripe_ready, sub.id) == monthly().id

    # A renewal that failed: pay first.
    stripe_ready.fail_renewal(sub.id)
    assert client.post(SYNC).json()["state"] == "past_due"
    past_due = client.post(PREVIEW, {"price": YEARLY_KEY}, format="json")
    assert (past_due.status_code, past_due.json()["code"]) == (409, "not_changeable")
    assert "open invoice" in past_due.json()["detail"]

    # A purchase not paid yet.
    starter = signed_in(unique_user(make_user))
    assert starter.post(CREATE, {}, format="json").json()["status"] == "incomplete"
    unpaid = starter.post(PREVIEW, {"price": YEARLY_KEY}, format="json")
    assert unpaid.json() == {
        "detail": "Finish paying for your subscription first.",
        "code": "not_changeable",
    }


def test_plan_changes_share_the_stripe_call_budget(stripe_ready, make_user):
    _user, client, _sub = subscriber(stripe_ready, make_user)
    with override_settings(BILLING_RATE_STRIPE_CALLS_USER="2/hour"):
        assert client.post(PREVIEW, {"price": YEARLY_KEY}, format="json").status_code == 200
        assert client.post(SYNC).status_code == 200
        stripe_client.CALLS.clear()
        refused = client.post(PREVIEW, {"price": YEARLY_KEY}, format="json")
        assert (refused.status_code, refused.json()["code"]) == (429, "throttled")
        assert "Retry-After" in refused
        assert client.post(CHANGE, {"price": YEARLY_KEY}, format="json").status_code == 429
        assert sum(stripe_client.CALLS.values()) == 0


# --- Trial eligibility ("ever had a subscription") -----------------------------------------


def test_a_purchase_given_up_keeps_the_trial_a_paid_one_ends_it(stripe_ready, make_user):
    user = unique_user(make_user)
    client = signed_in(user)
    assert client.get(STATUS).json()["trial_eligible"] is True
    started = client.post(CREATE, {}, format="json").json()
    assert client.post(CANCEL, {}, format="json").json()["state"] == "cancelled"
    synced = client.post(SYNC).json()
    assert (synced["stripe_status"], synced["trial_eligible"]) == ("canceled", True)
    with override_settings(BILLING_TRIAL_DAYS=0):
        assert client.get(STATUS).json()["trial_eligible"] is False  # no trials offered

    bought = client.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json")
    assert (
        bought.status_code == 201 and bought.json()["subscription_id"] != started["subscription_id"]
    )
    assert client.get(STATUS).json()["trial_eligible"] is False
    # Cancelled now, it stays spent: the flag is never taken back.
    assert client.post(CANCEL, {"at_period_end": False}, format="json").status_code == 200
    BillingAccount.objects.filter(user=user).update(had_subscription=False)  # a row from before
    assert client.post(SYNC).json()["trial_eligible"] is False  # the paid invoice says so


# --- The schema --------------------------------------------------------------------------------


def test_the_schema_describes_the_plan_endpoints(guest, db):
    schema = guest.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    components = schema["components"]["schemas"]
    for path, answer in (
        ("/api/stripe/subscription/preview-change/", "PlanChangePreview"),
        ("/api/stripe/subscription/change/", "PlanChanged"),
        ("/api/stripe/subscription/cancel-change/", "Status"),
    ):
        post = paths[path]["post"]
        ok = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ok.endswith("/" + answer), ok
        assert {"401", "409", "429"} <= set(post["responses"])
    change_body = paths["/api/stripe/subscription/change/"]["post"]["requestBody"]
    request_ref = change_body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(components[request_ref]["properties"]) == {"price", "proration_date"}
    assert "402" in paths["/api/stripe/subscription/change/"]["post"]["responses"]
    assert {"price", "interval", "scheduled_change", "trial_end", "trial_eligible"} <= set(
        components["Status"]["properties"]
    )
    assert {"prices", "trial_days"} <= set(components["Config"]["properties"])
    assert "lookup_key" in components["Price"]["properties"]
    assert "price" in components["CreateSubscription"]["properties"]
    preview = components["PlanChangePreview"]["properties"]
    assert set(preview) == {"price", "timing", "effective_at", "amount_due", "currency",
                            "proration_date", "lines"}  # fmt: skip


# --- What the review found (issue 15) ----------------------------------------------------------


def test_a_preview_from_before_a_renewal_is_expired(stripe_ready, make_user):
    """The subscription renewed between the preview and the confirmation: the preview's
    credit was for a period that is over, so the change is refused before Stripe is asked."""
    _user, client, sub = subscriber(stripe_ready, make_user)
    shown = client.post(PREVIEW, {"price": YEARLY_KEY}, format="json").json()
    stripe_ready.renew(sub.id)  # the stand-in's clock: the next month starts
    before = {inv.id for inv in invoices_at_stripe(stripe_ready, sub.customer)}
    stripe_ready.clear_requests_log()
    late = client.post(
        CHANGE, {"price": YEARLY_KEY, "proration_date": shown["proration_date"]}, format="json"
    )
    assert (late.status_code, late.json()["code"]) == (400, "preview_expired"), late.content
    assert price_of(stripe_ready, sub.id) == monthly().id
    assert {inv.id for inv in invoices_at_stripe(stripe_ready, sub.customer)} == before
    writes = [e for e in stripe_ready.requests_log() if e["method"] == "POST"]
    assert writes == []  # Stripe was only read


def test_a_declined_upgrade_stays_a_402_when_stripe_fails_right_after(
    stripe_ready, make_user, monkeypatch
):
    """The re-read after a refused upgrade fails (Stripe answers 500): the answer is still
    the decline (402), not a 502. The fault is set off right after the app voids the refused
    invoice, so that it hits that re-read and nothing before it."""
    _user, client, sub = subscriber(stripe_ready, make_user)
    assert (
        client.post(
            CARD, {"payment_method_id": "pm_card_chargeCustomerFail"}, format="json"
        ).status_code
        == 200
    )
    real_void = stripe_client.invoice_void
    voided: list[str] = []

    def void_then_stripe_fails(invoice_id: str) -> Any:
        voided.append(invoice_id)
        result = real_void(invoice_id)
        stripe_ready.inject_fault("/v1/subscriptions", method="GET", status=500)
        return result

    monkeypatch.setattr(stripe_client, "invoice_void", void_then_stripe_fails)
    stripe_ready.clear_requests_log()
    declined = client.post(CHANGE, {"price": YEARLY_KEY}, format="json")
    assert voided
    failed = [e for e in stripe_ready.requests_log() if e["status"] == 500]
    assert [(e["method"], e["path"]) for e in failed] == [("GET", "/v1/subscriptions")]
    assert (declined.status_code, declined.json()["code"]) == (402, "card_declined"), (
        declined.content
    )
    fresh = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id)
    assert fresh["items"].data[0].price.id == monthly().id and fresh.pending_update is None
    assert client.post(SYNC).json()["interval"] == "month"


def test_a_schedule_left_half_made_is_released(stripe_ready, make_user):
    """Stripe fails between making the schedule and giving it its two phases: the new
    schedule is released again (it would hold the subscription and change nothing), the
    answer is Stripe's failure, and the change can be made again."""
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    # The next POST under /v1/subscription_schedules/ (the phases) fails; the create is
    # /v1/subscription_schedules itself and goes through.
    stripe_ready.inject_fault("/v1/subscription_schedules/", status=500)
    failed = client.post(CHANGE, {"price": MONTHLY_KEY}, format="json")
    assert (failed.status_code, failed.json()["code"]) == (502, "stripe_error"), failed.content
    fresh = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id)
    assert fresh.schedule is None
    [made] = (
        stand_in(stripe_ready).v1.subscription_schedules.list(params={"subscription": sub.id}).data
    )
    assert made.status == "released"
    assert client.post(SYNC).json()["scheduled_change"] is None

    again = client.post(CHANGE, {"price": MONTHLY_KEY}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["subscription"]["scheduled_change"]["interval"] == "month"


def test_cancel_change_releases_a_schedule_that_changes_nothing(stripe_ready, make_user):
    """A schedule of the caller's subscription with no price change in it (one phase: made
    in the dashboard, or left by an older half-made change) is released by cancel-change/."""
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    schedule = stand_in(stripe_ready).v1.subscription_schedules.create(
        params={"from_subscription": sub.id}
    )
    assert client.post(SYNC).json()["scheduled_change"] is None  # nothing to show
    undone = client.post(CANCEL_CHANGE)
    assert undone.status_code == 200, undone.content
    assert undone.json()["scheduled_change"] is None
    assert stand_in(stripe_ready).v1.subscription_schedules.retrieve(schedule.id).status == (
        "released"
    )
    assert stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id).schedule is None
    again = client.post(CANCEL_CHANGE)
    assert (again.status_code, again.json()["code"]) == (409, "no_scheduled_change")


def test_cancel_change_after_a_lost_answer_is_answered_again(stripe_ready, make_user):
    """Stripe released the schedule but its answer never arrived (the connection dropped):
    the retry finds the schedule it knew released and answers 200, not 409."""
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    assert client.post(CHANGE, {"price": MONTHLY_KEY}, format="json").status_code == 200
    stripe_ready.inject_fault("/v1/subscription_schedules/", action="drop")
    lost = client.post(CANCEL_CHANGE)
    assert (lost.status_code, lost.json()["code"]) == (503, "stripe_unavailable"), lost.content
    assert stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id).schedule is None
    retried = client.post(CANCEL_CHANGE)
    assert retried.status_code == 200, retried.content
    assert retried.json()["scheduled_change"] is None
    assert retried.json()["interval"] == "year"


def test_a_new_card_goes_to_the_scheduled_change_too(stripe_ready, make_user):
    """A card changed while a downgrade is scheduled becomes the schedule's card as well
    (``default_settings.default_payment_method``): the monthly phase puts the schedule's card
    on the subscription, and the first monthly invoice is charged to it."""
    _user, client, sub = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    changed = client.post(CHANGE, {"price": MONTHLY_KEY}, format="json")
    assert changed.status_code == 200, changed.content
    schedule_id = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id).schedule
    stripe_ready.clear_requests_log()
    card = client.post(CARD, {"payment_method_id": "pm_card_mastercard"}, format="json")
    assert card.status_code == 200, card.content
    updates = [
        (e["method"], e["path"], e["status"])
        for e in stripe_ready.requests_log()
        if e["path"].startswith("/v1/subscription_schedules")
    ]
    assert updates == [("POST", f"/v1/subscription_schedules/{schedule_id}", 200)]
    assert card.json()["subscription"]["scheduled_change"]["interval"] == "month"
    new_card = card.json()["payment_method"]["id"]
    # The year ends: the monthly phase starts and its first invoice is charged to the new card.
    stripe_ready.renew(sub.id)
    renewed = stand_in(stripe_ready).v1.subscriptions.retrieve(sub.id)
    assert renewed.default_payment_method == new_card
    invoice = stand_in(stripe_ready).v1.invoices.retrieve(
        renewed.latest_invoice, {"expand": ["payments.data.payment.payment_intent"]}
    )
    assert (invoice.status, invoice.amount_paid) == ("paid", 2000)
    assert invoice.payments.data[0].payment.payment_intent.payment_method == new_card

    # Without a schedule no schedule is touched.
    _other, other_client, _ = subscriber(stripe_ready, make_user, price=YEARLY_KEY)
    stripe_ready.clear_requests_log()
    other_card = other_client.post(CARD, {"payment_method_id": "pm_card_visa"}, format="json")
    assert other_card.status_code == 200, other_card.content
    assert not [
        e for e in stripe_ready.requests_log() if e["path"].startswith("/v1/subscription_schedules")
    ]


def test_a_forever_code_survives_the_change_to_monthly(stripe_ready, make_user):
    """Setting a schedule's phases replaces everything in them (a phase without ``discounts``
    drops the subscription's discount, at Stripe and in the stand-in): the discount of the
    current phase is carried into both, so the first monthly invoice is still half price."""
    code = make_code(
        stripe_ready,
        coupon={
            "percent_off": 50,
            "duration": "forever",
            "applies_to": {"products": [our_product()]},
        },
    )
    user = unique_user(make_user)
    client = signed_in(user)
    bought = client.post(
        CREATE,
        {"payment_method_id": "pm_card_visa", "price": YEARLY_KEY, "promotion_code": code},
        format="json",
    )
    assert bought.status_code == 201, bought.content
    sub_id = bought.json()["subscription_id"]
    assert len(stand_in(stripe_ready).v1.subscriptions.retrieve(sub_id).discounts) == 1
    changed = client.post(CHANGE, {"price": MONTHLY_KEY}, format="json")
    assert changed.status_code == 200, changed.content
    assert len(stand_in(stripe_ready).v1.subscriptions.retrieve(sub_id).discounts) == 1
    stripe_ready.renew(sub_id)
    renewed = client.post(SYNC).json()
    assert renewed["interval"] == "month"
    latest = client.get(INVOICES).json()["results"][0]
    assert (latest["status"], latest["amount_paid"]) == ("paid", 1000)


def test_the_phases_of_a_downgrade_keep_the_subscriptions_discount():
    """The parameters of the two phases: the current phase's discounts carried into both
    (an existing discount reused by id, so a ``repeating`` one keeps its end date)."""
    price = plans.PriceInfo(
        id="price_month", lookup_key=MONTHLY_KEY, unit_amount=2000, currency="usd",
        interval="month", product_id="prod_x", product_name="Premium",
    )  # fmt: skip
    schedule = {
        "id": "sub_sched_1",
        "current_phase": {"start_date": 100, "end_date": 200},
        "phases": [
            {"start_date": 0, "end_date": 100, "discounts": [{"coupon": "old"}]},
            {
                "start_date": 100,
                "end_date": 200,
                "discounts": [
                    {"coupon": "co_1", "discount": "di_1", "promotion_code": "promo_1"},
                    {"coupon": "co_2", "discount": None, "promotion_code": None},
                ],
            },
        ],
    }
    phases = plan_changes.downgrade_phases(schedule, current_price="price_year", price=price)
    carried = [{"discount": "di_1"}, {"coupon": "co_2"}]
    assert phases == [
        {"items": [{"price": "price_year", "quantity": 1}], "start_date": 100, "end_date": 200,
         "discounts": carried},
        {"items": [{"price": "price_month", "quantity": 1}],
         "duration": {"interval": "month", "interval_count": 1}, "discounts": carried},
    ]  # fmt: skip
    # No discount: no ``discounts`` at all (what the stand-in and Stripe take alike).
    schedule["phases"][1]["discounts"] = []
    plain = plan_changes.downgrade_phases(schedule, current_price="price_year", price=price)
    assert all("discounts" not in phase for phase in plain)
