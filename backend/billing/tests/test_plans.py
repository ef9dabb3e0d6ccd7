"""Premium's prices (billing/plans.py): the catalogue in config, buying at either price, refusing
every price that is not ours, and ``create_stripe_data`` making both prices and the demo code.

Against the offline Stripe stand-in over HTTP; nothing of stripe-python is mocked. The foreign
prices are real prices of another product made in the stand-in, as a second product in the same
Stripe account would be.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

import pytest
from conftest import stripe_settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from billing import plans, stripe_client
from billing.models import BillingAccount
from billing.tests.support import unique_user
from fakestripe.launcher import FakeStripe
from fakestripe.testing import stripe_client as stand_in

CONFIG = "/api/stripe/config/"
CREATE = "/api/stripe/create-subscription/"
STATUS = "/api/stripe/subscription/"
MONTHLY_KEY = "opensecdata_premium_monthly"
YEARLY_KEY = "opensecdata_premium_yearly"
INVALID_PRICE = "That price is not one of Premium's prices."


@pytest.fixture(autouse=True)
def fresh_rate_limits(db: Any) -> None:
    """The purchase throttles count per user and per address in the shared cache."""
    cache.clear()


def signed_in(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def foreign_price(fake: Any) -> Any:
    """A recurring price of another product in the same Stripe account."""
    client = stand_in(fake)
    product = client.v1.products.create(params={"name": f"Other {secrets.token_hex(3)}"})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 100,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )


def stripe_writes(fake: Any) -> list[tuple[str, str]]:
    """The POSTs and DELETEs the stand-in received since its journal was cleared."""
    return [
        (entry["method"], entry["path"])
        for entry in fake.requests_log()
        if entry["method"] in ("POST", "DELETE")
    ]


# --- The catalogue in config ---------------------------------------------------------------


def test_config_lists_both_prices_monthly_first_and_the_trial_days(stripe_ready, guest):
    body = guest.get(CONFIG).json()
    monthly, yearly = body["prices"]
    assert monthly == body["price"]  # old clients keep reading `price`: the monthly one
    assert (monthly["lookup_key"], monthly["unit_amount"], monthly["interval"]) == (
        MONTHLY_KEY, 2000, "month",
    )  # fmt: skip
    assert (yearly["lookup_key"], yearly["unit_amount"], yearly["interval"]) == (
        YEARLY_KEY, 20000, "year",
    )  # fmt: skip
    assert yearly["currency"] == "usd" and yearly["product_name"] == monthly["product_name"] != ""
    assert set(monthly) == {"id", "lookup_key", "unit_amount", "currency", "interval",
                            "product_name"}  # fmt: skip
    assert body["trial_days"] == 7
    with override_settings(BILLING_TRIAL_DAYS=0):
        assert guest.get(CONFIG).json()["trial_days"] == 0


def test_the_catalogue_is_read_from_stripe_once_then_cached(stripe_ready, guest):
    cache.clear()
    guest.get(CONFIG)
    guest.get(CONFIG)
    guest.get(CONFIG)
    assert stripe_client.CALLS["prices.list"] == 2  # the two lookup keys, once


def test_fixed_price_ids_override_the_lookup_keys(stripe_ready, guest):
    other = foreign_price(stripe_ready)
    monthly = plans.price_get()
    with override_settings(STRIPE_YEARLY_PRICE_ID=other.id):
        prices = guest.get(CONFIG).json()["prices"]
    assert [p["id"] for p in prices] == [monthly.id, other.id]


# --- Buying at a price -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["lookup_key", "id"])
def test_buying_yearly_by_lookup_key_or_id(stripe_ready, make_user, how):
    user = unique_user(make_user)
    yearly = plans.prices_get()[1]
    value = yearly.lookup_key if how == "lookup_key" else yearly.id
    bought = signed_in(user).post(
        CREATE, {"payment_method_id": "pm_card_visa", "price": value}, format="json"
    )
    assert bought.status_code == 201, bought.content
    assert bought.json()["premium"] is True
    sub = stand_in(stripe_ready).v1.subscriptions.retrieve(bought.json()["subscription_id"])
    assert sub["items"].data[0].price.id == yearly.id
    invoice = stand_in(stripe_ready).v1.invoices.retrieve(sub.latest_invoice)
    assert (invoice.amount_paid, invoice.status) == (20000, "paid")
    status = signed_in(user).get(STATUS).json()
    assert status["price"] == yearly.as_dict()
    assert status["interval"] == "year"
    assert status["trial_eligible"] is False  # had a subscription now


def test_no_price_buys_monthly(stripe_ready, make_user):
    user = unique_user(make_user)
    bought = signed_in(user).post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json")
    assert bought.status_code == 201
    sub = stand_in(stripe_ready).v1.subscriptions.retrieve(bought.json()["subscription_id"])
    assert sub["items"].data[0].price.id == plans.price_get().id
    assert signed_in(user).get(STATUS).json()["interval"] == "month"


def test_a_price_that_is_not_ours_is_refused_and_nothing_is_made(stripe_ready, make_user):
    other = foreign_price(stripe_ready)
    user = unique_user(make_user)
    client = signed_in(user)
    stripe_ready.clear_requests_log()
    stripe_client.CALLS.clear()
    refused = [
        other.id,  # a real, active price of another product
        other.id.upper(),
        "price_doesnotexist000",  # unknown
        "not a price at all",  # malformed
        "",
        "x" * 5000,
        123,
        ["price_x"],
        {"id": plans.price_get().id},  # ours, but not as a string
        f" {YEARLY_KEY}",
    ]
    for value in refused:
        for body in ({"price": value}, {"price": value, "payment_method_id": "pm_card_visa"}):
            answer = client.post(CREATE, body, format="json")
            assert answer.status_code == 400, (value, answer.content)
            assert answer.json() == {"detail": INVALID_PRICE, "code": "invalid_price"}
    assert stripe_writes(stripe_ready) == []  # no customer, no card, no subscription
    assert not BillingAccount.objects.filter(user=user, stripe_customer_id__isnull=False).exists()


def test_an_open_attempt_at_another_price_is_closed_not_reused(stripe_ready, make_user):
    user = unique_user(make_user)
    client = signed_in(user)
    first = client.post(CREATE, {}, format="json").json()
    again = client.post(CREATE, {"price": MONTHLY_KEY}, format="json")
    assert again.json()["subscription_id"] == first["subscription_id"]  # same price: reused
    yearly = client.post(CREATE, {"price": YEARLY_KEY}, format="json")
    assert yearly.status_code == 201
    assert yearly.json()["subscription_id"] != first["subscription_id"]
    client_stripe = stand_in(stripe_ready)
    assert client_stripe.v1.subscriptions.retrieve(first["subscription_id"]).status == "canceled"
    new = client_stripe.v1.subscriptions.retrieve(yearly.json()["subscription_id"])
    assert (new.status, new["items"].data[0].price.id) == ("incomplete", plans.prices_get()[1].id)
    # Its first invoice is the yearly amount: the secret the browser confirms pays USD 200.
    assert client_stripe.v1.invoices.retrieve(new.latest_invoice).amount_due == 20000


# --- create_stripe_data ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_create_stripe_data_makes_both_prices_and_the_demo_code_once(tmp_path):
    with (
        FakeStripe(state_dir=tmp_path / "stripe") as fake,
        override_settings(**stripe_settings(fake)),
    ):
        cache.clear()
        out = io.StringIO()
        call_command("create_stripe_data", "--demo-promotion-code", stdout=out)
        lines = out.getvalue().strip().splitlines()
        client = stand_in(fake)
        (monthly,) = client.v1.prices.list(params={"lookup_keys": [MONTHLY_KEY]}).data
        (yearly,) = client.v1.prices.list(params={"lookup_keys": [YEARLY_KEY]}).data
        assert lines[-1] == monthly.id  # scripts: PRICE=$(manage.py create_stripe_data | tail -1)
        assert (monthly.unit_amount, monthly.recurring.interval) == (2000, "month")
        assert (yearly.unit_amount, yearly.recurring.interval) == (20000, "year")
        assert yearly.product == monthly.product
        (promo,) = client.v1.promotion_codes.list(params={"code": "WELCOME50"}).data
        coupon = client.v1.coupons.retrieve(
            promo.promotion.coupon, params={"expand": ["applies_to"]}
        )
        assert (coupon.percent_off, coupon.duration, coupon.name) == (
            50, "once", "50% off the first payment",
        )  # fmt: skip
        assert coupon.applies_to.products == [monthly.product]
        assert promo.active is True

        stripe_client.CALLS.clear()
        again = io.StringIO()
        call_command("create_stripe_data", "--demo-promotion-code", stdout=again)
        assert again.getvalue().strip().splitlines()[-1] == monthly.id
        assert [name for name in stripe_client.CALLS if name.endswith(".create")] == []
        assert len(client.v1.promotion_codes.list(params={"code": "WELCOME50"}).data) == 1
        assert len(client.v1.prices.list(params={"lookup_keys": [YEARLY_KEY]}).data) == 1


@pytest.mark.django_db(transaction=True)
def test_create_stripe_data_adds_the_yearly_price_to_an_existing_product(tmp_path):
    """A deployment from before the yearly price: the monthly one exists, the yearly one is made
    beside it, on the same product."""
    with (
        FakeStripe(state_dir=tmp_path / "stripe") as fake,
        override_settings(**stripe_settings(fake)),
    ):
        cache.clear()
        client = stand_in(fake)
        # What the command made before issue 15: the tagged product and the monthly price.
        product = client.v1.products.create(
            params={"name": "Premium", "metadata": {"opensecdata_product": "premium"}}
        )
        monthly = client.v1.prices.create(
            params={"product": product.id, "unit_amount": 2000, "currency": "usd",
                    "recurring": {"interval": "month"}, "lookup_key": MONTHLY_KEY}
        )  # fmt: skip
        # Meanwhile the app keeps selling monthly: a missing yearly price is left out.
        assert [p.id for p in plans.prices_get()] == [monthly.id]
        cache.clear()
        out = io.StringIO()
        call_command("create_stripe_data", stdout=out)
        (yearly,) = client.v1.prices.list(params={"lookup_keys": [YEARLY_KEY]}).data
        assert yearly.product == product.id
        assert f"Found price {monthly.id}" in out.getvalue()
        assert out.getvalue().strip().splitlines()[-1] == monthly.id
        assert [p.id for p in plans.prices_get()] == [monthly.id, yearly.id]


def test_the_demo_code_is_refused_with_a_live_key(stripe_ready):
    stripe_ready.clear_requests_log()
    with (
        override_settings(STRIPE_SECRET_KEY="sk_live_" + "0" * 24),
        pytest.raises(CommandError, match="live key"),
    ):
        call_command("create_stripe_data", "--demo-promotion-code", stdout=io.StringIO())
    assert stripe_ready.requests_log() == []  # refused before Stripe was asked anything
