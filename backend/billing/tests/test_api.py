"""The billing endpoints against the offline Stripe stand-in, over real HTTP.

Nothing of stripe-python is mocked: the app's own calls reach the stand-in, and the
tests read the stand-in's state back with a separate Stripe client.
"""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from conftest import stripe_settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from djstripe import models as djstripe_models

from billing import services, stripe_client
from billing.models import BillingAccount
from fakestripe.launcher import FakeStripe
from fakestripe.testing import stripe_client as stand_in  # our own view of the stand-in

CREATE = "/api/stripe/create-subscription/"
STATUS = "/api/stripe/subscription/"
SYNC = "/api/stripe/subscription/sync/"
CANCEL = "/api/stripe/cancel-subscription/"
RESUME = "/api/stripe/resume-subscription/"


@pytest.fixture(autouse=True)
def fresh_rate_limits(db: Any) -> None:
    """The throttles (billing/throttling.py) count per user and per address in the shared
    cache; user ids repeat across tests and every test client is 127.0.0.1."""
    cache.clear()


def subscriptions_of(fake, user) -> list[Any]:
    account = BillingAccount.objects.filter(user=user).first()
    if account is None or not account.stripe_customer_id:
        return []
    return list(
        stand_in(fake)
        .v1.subscriptions.list(params={"customer": account.stripe_customer_id, "status": "all"})
        .data
    )


def buy(api, pm: str | None = "pm_card_visa"):
    body = {"payment_method_id": pm} if pm else {}
    return api.post(CREATE, body, format="json")


def confirm_in_browser(fake, client_secret: str, pm: str = "pm_card_visa") -> Any:
    """What Stripe.js does after the card form: confirm the first invoice's PaymentIntent."""
    intent_id = client_secret.split("_secret_")[0]
    return stand_in(fake).v1.payment_intents.confirm(intent_id, params={"payment_method": pm})


# --- Config and authentication -----------------------------------------------------


def test_config_gives_the_publishable_key_and_the_monthly_price(stripe_ready, guest):
    response = guest.get("/api/stripe/config/")
    assert response.status_code == 200
    body = response.json()
    assert body["publishable_key"] == stripe_ready.publishable_key
    assert body["price"]["unit_amount"] == 2000
    assert body["price"]["currency"] == "usd"
    assert body["price"]["interval"] == "month"
    assert body["price"]["id"].startswith(("price_", "plan_"))


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", STATUS), ("post", CREATE), ("post", SYNC), ("post", CANCEL), ("post", RESUME)],
)
def test_guest_gets_401_with_a_json_sentence(guest, method, path, db):
    response = getattr(guest, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]
    assert "Bearer" in response["WWW-Authenticate"]


def test_status_without_subscription_is_none(api, db):
    body = api.get(STATUS).json()
    assert body == {
        "state": "none",
        "stripe_status": None,
        "premium": False,
        "premium_until": None,
        "current_period_end": None,
        "cancel_at_period_end": False,
        "subscription_id": None,
        "payment_problem": None,
        "price": None,
        "interval": None,
        "scheduled_change": None,
        "trial_end": None,
        "trial_eligible": True,  # BILLING_TRIAL_DAYS defaults to 7
    }


# --- Buying ------------------------------------------------------------------------


def test_card_4242_is_active_and_premium_in_the_same_answer(stripe_ready, api, user):
    response = buy(api, "pm_card_visa")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["premium"] is True
    assert body["client_secret"] is None
    status = api.get(STATUS).json()
    assert status["state"] == "active" and status["premium"] is True
    assert status["subscription_id"] == body["subscription_id"]
    assert status["current_period_end"] is not None
    # The customer id is stored on the user's billing row, and dj-stripe mirrors both.
    account = BillingAccount.objects.get(user=user)
    assert account.stripe_customer_id.startswith("cus_")
    assert djstripe_models.Customer.objects.filter(id=account.stripe_customer_id).exists()
    assert djstripe_models.Subscription.objects.filter(id=body["subscription_id"]).exists()


def test_default_incomplete_returns_the_client_secret_until_the_browser_confirms(stripe_ready, api):
    response = buy(api, None)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "incomplete"
    assert body["premium"] is False
    assert "_secret_" in body["client_secret"]
    assert api.get(STATUS).json()["state"] == "incomplete"

    confirm_in_browser(stripe_ready, body["client_secret"])
    synced = api.post(SYNC).json()
    assert synced["state"] == "active" and synced["premium"] is True


def test_3d_secure_card_comes_back_incomplete_with_a_client_secret(stripe_ready, api, user):
    response = buy(api, "pm_card_threeDSecure2Required")
    assert response.status_code in (200, 201), response.content
    body = response.json()
    assert body["status"] == "incomplete"
    assert body["client_secret"]
    assert body["premium"] is False
    synced = api.post(SYNC).json()
    assert synced["premium"] is False, synced


@pytest.mark.parametrize("pm", ["pm_card_chargeDeclined", "pm_card_chargeCustomerFail"])
def test_a_failing_card_is_402_never_premium_and_leaves_nothing_open(stripe_ready, api, user, pm):
    response = buy(api, pm)
    assert response.status_code == 402, response.content
    assert "declined" in response.json()["detail"].lower()
    assert api.get(STATUS).json()["premium"] is False
    open_subs = [
        s for s in subscriptions_of(stripe_ready, user) if s.status in ("active", "incomplete")
    ]
    assert open_subs == []
    # Another card works afterwards.
    assert buy(api, "pm_card_visa").json()["premium"] is True


def test_unknown_payment_method_is_a_400_sentence(stripe_ready, api):
    response = buy(api, "pm_doesnotexist")
    assert response.status_code in (400, 402)
    assert response.json()["detail"]
    malformed = api.post(CREATE, {"payment_method_id": "<script>"}, format="json")
    assert malformed.status_code == 400
    assert "payment_method_id" in malformed.json()["detail"]


def test_already_premium_is_409(stripe_ready, api):
    assert buy(api, "pm_card_visa").status_code == 201
    response = buy(api, None)
    assert response.status_code == 409
    assert response.json()["code"] == "already_premium"


def test_a_stored_row_lagging_a_renewal_is_re_read_not_sold_twice(stripe_ready, api, user):
    """The period ended in our row, Stripe renewed it, the webhook is not processed yet:
    buying again must not start a second subscription (a second charge) beside it."""
    first = buy(api, "pm_card_visa").json()
    ended = timezone.now() - timedelta(minutes=1)
    BillingAccount.objects.filter(user=user).update(premium_until=ended, current_period_end=ended)
    assert api.get(STATUS).json()["premium"] is False

    response = buy(api, "pm_card_visa")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "already_premium"
    assert [s["id"] for s in subscriptions_of(stripe_ready, user)] == [first["subscription_id"]]
    assert api.get(STATUS).json()["premium"] is True  # and the row caught up


def test_the_same_request_twice_gives_one_subscription_and_the_same_answer(stripe_ready, api, user):
    first = buy(api, "pm_card_visa")
    second = buy(api, "pm_card_visa")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["subscription_id"] == second.json()["subscription_id"]
    assert len(subscriptions_of(stripe_ready, user)) == 1

    # The browser flow too: a repeated {} reuses the open incomplete subscription.


def test_repeated_default_incomplete_reuses_the_open_subscription(stripe_ready, api, user):
    first = buy(api, None).json()
    second = buy(api, None).json()
    assert first["subscription_id"] == second["subscription_id"]
    assert first["client_secret"] == second["client_secret"]
    assert len(subscriptions_of(stripe_ready, user)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_make_one_stripe_subscription(stripe_price, fake_stripe, user):
    services.price_get()
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def submit() -> None:
        client = Client()
        client.force_login(user)
        barrier.wait()
        answers.append(
            client.post(
                CREATE, {"payment_method_id": "pm_card_visa"}, content_type="application/json"
            )
        )

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.status_code for r in answers) == [200, 201], [r.content for r in answers]
    assert len({r.json()["subscription_id"] for r in answers}) == 1
    assert len(subscriptions_of(fake_stripe, user)) == 1


def test_a_purchase_makes_few_stripe_calls(stripe_ready, api, make_user):
    """At most 2 calls for a new customer in the browser mode, 1 for a returning one."""
    assert buy(api, None).status_code == 201
    calls = [r for r in stripe_ready.requests_log() if r["path"].startswith("/v1/")]
    assert len(calls) <= 2, calls
    assert [c["method"] for c in calls] == ["POST"] * len(calls)
    assert all(c["idempotency_key"] for c in calls), calls

    # A returning customer: their earlier subscription ended, they buy again.
    returning = make_user()
    client = type(api)()
    client.force_login(returning)
    assert buy(client, "pm_card_visa").status_code == 201
    assert client.post(CANCEL, {"at_period_end": False}, format="json").status_code == 200
    stripe_ready.clear_requests_log()
    assert buy(client, None).status_code == 201
    calls = [r for r in stripe_ready.requests_log() if r["path"].startswith("/v1/")]
    assert len(calls) == 1, calls


# --- Cancel and resume -------------------------------------------------------------


def test_cancel_at_period_end_keeps_premium_then_resume(stripe_ready, api):
    assert buy(api, "pm_card_visa").status_code == 201
    cancelled = api.post(CANCEL, {}, format="json")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["state"] == "cancelling"
    assert body["premium"] is True
    assert body["cancel_at_period_end"] is True
    assert body["premium_until"] == body["current_period_end"]

    resumed = api.post(RESUME)
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "active"
    assert resumed.json()["cancel_at_period_end"] is False

    again = api.post(RESUME)
    assert again.status_code == 409
    assert again.json()["detail"]


def test_cancel_now_ends_premium(stripe_ready, api):
    assert buy(api, "pm_card_visa").status_code == 201
    response = api.post(CANCEL, {"at_period_end": False}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "cancelled" and body["premium"] is False
    assert api.post(CANCEL, {}, format="json").status_code == 404


@pytest.mark.parametrize("value", [0, 0.0, "false", "no", "off", None, {}])
def test_cancel_now_needs_a_json_false_not_a_number_or_a_word(stripe_ready, api, value):
    """The fuzzer sent {"at_period_end": 0.0} and Premium ended at once: only `false` does."""
    assert buy(api, "pm_card_visa").status_code == 201
    response = api.post(CANCEL, {"at_period_end": value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("at_period_end:")
    assert api.get(STATUS).json()["state"] == "active"


def test_cancel_without_a_subscription_is_404(api, db):
    response = api.post(CANCEL, {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "no_subscription"


def test_nobody_can_touch_another_users_subscription(stripe_ready, api, make_user):
    owner_sub = buy(api, "pm_card_visa").json()["subscription_id"]
    intruder = make_user()
    client = type(api)()
    client.force_login(intruder)
    # An id in the body is ignored: the intruder has no subscription of their own.
    response = client.post(
        CANCEL, {"subscription_id": owner_sub, "at_period_end": False}, format="json"
    )
    assert response.status_code == 404
    assert client.get(STATUS).json()["subscription_id"] is None
    assert client.post(RESUME, {"subscription_id": owner_sub}, format="json").status_code == 409
    owner = api.get(STATUS).json()
    assert owner["state"] == "active" and owner["premium"] is True


# --- Stripe unreachable ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_stripe_down_mid_flow_is_503_and_a_retry_duplicates_nothing(tmp_path, user):
    with (
        FakeStripe(state_dir=tmp_path / "stripe") as fake,
        override_settings(**stripe_settings(fake)),
    ):
        call_command("create_stripe_data", stdout=io.StringIO())
        client = Client()
        client.force_login(user)

        fake.stop()
        down = client.post(CREATE, {}, content_type="application/json")
        assert down.status_code == 503
        assert "try again" in down.json()["detail"]
        assert not BillingAccount.objects.filter(
            user=user, stripe_customer_id__isnull=False
        ).exists()

        fake.start()  # same state directory: the price is still there
        ok = client.post(CREATE, {}, content_type="application/json")
        assert ok.status_code == 201, ok.content
        retry = client.post(CREATE, {}, content_type="application/json")
        assert retry.json()["subscription_id"] == ok.json()["subscription_id"]
        customers = stand_in(fake).v1.customers.list(params={"email": user.email}).data
        assert len(customers) == 1
        assert len(subscriptions_of(fake, user)) == 1


def test_stripe_5xx_is_502_and_the_retry_makes_one_customer_and_subscription(
    stripe_ready, api, user
):
    stripe_ready.inject_fault("/v1/subscriptions", action="error", status=500)
    failed = buy(api, None)
    assert failed.status_code == 502
    assert "try again" in failed.json()["detail"]
    assert api.get(STATUS).json()["state"] == "none"

    ok = buy(api, None)
    assert ok.status_code == 201, ok.content
    assert [s.id for s in subscriptions_of(stripe_ready, user)] == [ok.json()["subscription_id"]]
    creates = [r for r in stripe_ready.requests_log() if r["path"] == "/v1/customers"]
    assert len(creates) == 1  # the customer made before the failure was kept and reused


def test_an_answer_lost_after_stripe_acted_is_recovered_by_the_idempotency_key(
    stripe_ready, api, user
):
    """Stripe creates the subscription but the connection drops before the answer."""
    stripe_ready.inject_fault("/v1/subscriptions", action="drop")
    lost = buy(api, None)
    assert lost.status_code == 503
    made = subscriptions_of(stripe_ready, user)
    assert len(made) == 1  # it exists at Stripe; the app does not know it yet

    retry = buy(api, None)
    assert retry.status_code == 201, retry.content
    assert retry.json()["subscription_id"] == made[0].id
    assert len(subscriptions_of(stripe_ready, user)) == 1
    posts = [
        r
        for r in stripe_ready.requests_log()
        if r["method"] == "POST" and r["path"] == "/v1/subscriptions"
    ]
    assert len(posts) == 2 and posts[0]["idempotency_key"] == posts[1]["idempotency_key"]


def test_a_lost_answer_then_another_card_never_makes_a_second_subscription(stripe_ready, api, user):
    """API consumers (issue 12, item 7): Stripe creates the subscription for card 1, the answer
    is lost, the stored row stays empty; a retry with *another* card must not start a second
    paid subscription beside the first."""
    stripe_ready.inject_fault("/v1/subscriptions", method="POST", action="drop")
    lost = buy(api, "pm_card_visa")
    assert lost.status_code == 503
    made = subscriptions_of(stripe_ready, user)
    assert [s.status for s in made] == ["active"]  # paid at Stripe; unknown to the app
    assert BillingAccount.objects.get(user=user).subscription_id == ""

    retry = buy(api, "pm_card_mastercard")
    assert retry.status_code == 409, retry.content
    assert retry.json()["code"] == "already_premium"
    live = [s for s in subscriptions_of(stripe_ready, user) if s.status != "canceled"]
    assert [s.id for s in live] == [made[0].id]
    status = api.get(STATUS).json()
    assert status["premium"] is True and status["subscription_id"] == made[0].id


def test_a_lost_3ds_answer_then_another_card_replaces_the_open_attempt(stripe_ready, api, user):
    """The lost attempt was left waiting for 3-D Secure: the retry with another card closes it
    and charges the new card, so exactly one subscription is live."""
    stripe_ready.inject_fault("/v1/subscriptions", method="POST", action="drop")
    assert buy(api, "pm_card_threeDSecure2Required").status_code == 503
    (waiting,) = subscriptions_of(stripe_ready, user)
    assert waiting.status == "incomplete"

    retry = buy(api, "pm_card_visa")
    assert retry.status_code == 201, retry.content
    assert retry.json()["premium"] is True
    by_status = {s.id: s.status for s in subscriptions_of(stripe_ready, user)}
    assert by_status[waiting.id] == "canceled"
    assert sorted(by_status.values()) == ["active", "canceled"]


# --- Seed data ---------------------------------------------------------------------


def test_create_stripe_data_twice_creates_nothing_new(stripe_ready, capsys):
    first = services.price_get().id
    call_command("create_stripe_data")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == first
    assert "Found price" in out[0]
    client = stand_in(stripe_ready)
    products = [
        p
        for p in client.v1.products.list(params={"limit": 100}).data
        if (p.metadata or {}).get("opensecdata_product") == "premium"
    ]
    assert len(products) == 1
    prices = client.v1.prices.list(params={"lookup_keys": ["opensecdata_premium_monthly"]}).data
    assert [p.id for p in prices] == [first]
    assert stripe_client.CALLS["prices.create"] == 0
