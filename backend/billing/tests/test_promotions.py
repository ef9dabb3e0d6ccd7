"""Promotion codes (billing/promotions.py): ``POST promotion-code/`` and ``promotion_code`` in
``POST create-subscription/`` (docs/api.md, "Promotion codes").

Nothing of stripe-python is mocked: the coupons and codes are made in the Stripe stand-in over
HTTP as in Stripe's dashboard, the app finds and checks them there, the first amount comes from
the stand-in's invoice preview, and the purchase's invoice is read back through
``GET invoices/``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing import promotions, services, stripe_client
from billing.models import BillingAccount
from billing.tests.support import make_code, unique_user
from fakestripe.testing import premium_price
from fakestripe.testing import stripe_client as stand_in

CREATE = "/api/stripe/create-subscription/"
PROMOTION = "/api/stripe/promotion-code/"
INVOICES = "/api/stripe/invoices/"
CANCEL = "/api/stripe/cancel-subscription/"


@pytest.fixture(autouse=True)
def fresh_rate_limits(db: Any) -> None:
    """The throttles count per user in the shared cache."""
    cache.clear()


# --- Helpers --------------------------------------------------------------------------------------


def signed_in(make_user: Any) -> tuple[Any, APIClient]:
    user = unique_user(make_user)
    client = APIClient()
    client.force_login(user)
    return user, client


def refused(answer: Any, sentence: str) -> None:
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"detail": sentence, "code": "invalid_promotion_code"}


# --- The check and the preview ----------------------------------------------------------------


def test_a_50_percent_code_previews_10_dollars_and_the_first_invoice_charges_exactly_that(
    stripe_ready, make_user
):
    code = make_code(stripe_ready)
    _user, client = signed_in(make_user)
    answer = client.post(PROMOTION, {"code": code.lower()}, format="json")  # any case
    assert answer.status_code == 200, answer.content
    body = answer.json()
    monthly = services.price_get()
    assert body["price"] == monthly.as_dict()
    assert body["code"] == code and body["promotion_code_id"].startswith("promo_")
    assert (body["percent_off"], body["amount_off"]) == (50.0, None)
    assert (body["duration"], body["duration_in_months"]) == ("once", None)
    assert (body["amount"], body["discount"], body["first_amount"]) == (2000, 1000, 1000)
    assert body["currency"] == "usd"
    assert body["description"] == "50% off the first payment"

    bought = client.post(
        CREATE, {"payment_method_id": "pm_card_visa", "promotion_code": code}, format="json"
    )
    assert bought.status_code == 201, bought.content
    assert bought.json()["premium"] is True
    [invoice] = client.get(INVOICES).json()["results"]
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", body["first_amount"])
    sub = stand_in(stripe_ready).v1.subscriptions.retrieve(
        bought.json()["subscription_id"], params={"expand": ["discounts"]}
    )
    assert [d.promotion_code for d in sub.discounts] == [body["promotion_code_id"]]

    stripe_ready.renew(sub.id)  # "once": the second month is the full price
    invoices = client.get(INVOICES).json()["results"]
    assert [i["amount_paid"] for i in invoices] == [2000, 1000]


def test_the_browser_purchase_with_a_code_confirms_the_discounted_first_invoice(
    stripe_ready, make_user
):
    """Without a card the answer's secret is the first invoice's, for USD 10.00, and the
    yearly price gets its own preview (USD 100.00)."""
    code = make_code(stripe_ready)
    _user, client = signed_in(make_user)
    yearly = next(p for p in services.plans.prices_get() if p.interval == "year")
    preview = client.post(PROMOTION, {"code": code, "price": yearly.lookup_key}, format="json")
    assert preview.status_code == 200, preview.content
    assert (preview.json()["amount"], preview.json()["first_amount"]) == (20000, 10000)
    assert preview.json()["price"]["interval"] == "year"

    bought = client.post(
        CREATE, {"price": yearly.lookup_key, "promotion_code": code}, format="json"
    )
    assert bought.status_code == 201, bought.content
    assert bought.json()["status"] == "incomplete"
    assert bought.json()["intent_type"] == "payment" and bought.json()["trial_end"] is None
    [invoice] = client.get(INVOICES).json()["results"]
    assert invoice["amount_due"] == 10000

    # The same request again is the same purchase; another code is another purchase.
    again = client.post(CREATE, {"price": yearly.lookup_key, "promotion_code": code}, format="json")
    assert again.status_code == 200
    assert again.json()["subscription_id"] == bought.json()["subscription_id"]
    without = client.post(CREATE, {"price": yearly.lookup_key}, format="json")
    assert without.status_code == 201
    assert without.json()["subscription_id"] != bought.json()["subscription_id"]
    assert next(i["amount_due"] for i in client.get(INVOICES).json()["results"]) == 20000


def test_an_amount_off_code_and_its_description(stripe_ready, make_user):
    code = make_code(
        stripe_ready,
        coupon={"amount_off": 500, "currency": "usd", "duration": "repeating",
                "duration_in_months": 3},
    )  # fmt: skip
    _user, client = signed_in(make_user)
    body = client.post(PROMOTION, {"code": code}, format="json").json()
    assert (body["amount_off"], body["percent_off"]) == (500, None)
    assert (body["duration"], body["duration_in_months"]) == ("repeating", 3)
    assert (body["discount"], body["first_amount"]) == (500, 1500)
    assert body["description"] == "$5.00 off the first 3 months"


def expired_code(fake: Any) -> str:
    code = make_code(fake, expires_at=int(time.time()) + 2)
    time.sleep(2.5)
    return code


def inactive_code(fake: Any) -> str:
    code = make_code(fake)
    client = stand_in(fake)
    [found] = client.v1.promotion_codes.list(params={"code": code}).data
    client.v1.promotion_codes.update(found.id, params={"active": False})
    return code


def foreign_code(fake: Any) -> str:
    other = premium_price(stand_in(fake))  # another product of the same account
    return make_code(
        fake,
        coupon={"percent_off": 50, "duration": "once",
                "applies_to": {"products": [other.product]}},
    )  # fmt: skip


def coupon_expired_code(fake: Any) -> str:
    code = make_code(
        fake,
        coupon={"percent_off": 50, "duration": "once", "redeem_by": int(time.time()) + 2},
    )
    time.sleep(2.5)
    return code


def other_currency_code(fake: Any) -> str:
    return make_code(fake, coupon={"amount_off": 500, "currency": "eur", "duration": "once"})


REFUSALS = [
    ("unknown", lambda fake: "NOSUCH" + secrets.token_hex(4).upper(), "This code does not exist."),
    ("malformed", lambda fake: "WELCOME 50!", "This code does not exist."),
    ("expired", expired_code, "This code has expired."),
    ("inactive", inactive_code, "This code is no longer active."),
    ("another product", foreign_code, "This code does not apply to Premium."),
    ("coupon past redeem_by", coupon_expired_code, "This code has expired."),
    ("amount off in euros", other_currency_code, "This code does not apply to Premium."),
]


@pytest.mark.parametrize(("case", "make", "sentence"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_an_invalid_code_is_a_400_sentence_and_the_purchase_creates_nothing(
    stripe_ready, make_user, case, make, sentence
):
    code = make(stripe_ready)
    user, client = signed_in(make_user)
    refused(client.post(PROMOTION, {"code": code}, format="json"), sentence)
    stripe_client.CALLS.clear()
    refused(
        client.post(
            CREATE, {"payment_method_id": "pm_card_visa", "promotion_code": code}, format="json"
        ),
        sentence,
    )
    assert stripe_client.CALLS["subscriptions.create"] == 0
    assert stripe_client.CALLS["payment_methods.attach"] == 0
    account = BillingAccount.objects.filter(user=user).first()
    assert account is None or account.subscription_id == ""


def test_a_malformed_code_is_refused_without_asking_stripe(stripe_ready, make_user):
    _user, client = signed_in(make_user)
    refused(client.post(PROMOTION, {"code": "x" * 65}, format="json"), "This code does not exist.")
    refused(client.post(PROMOTION, {"code": "a'; --"}, format="json"), "This code does not exist.")
    assert stripe_client.CALLS["promotion_codes.list"] == 0


def test_a_used_up_code_is_refused(stripe_ready, make_user):
    code = make_code(stripe_ready, max_redemptions=1)
    _first, first = signed_in(make_user)
    bought = first.post(
        CREATE, {"payment_method_id": "pm_card_visa", "promotion_code": code}, format="json"
    )
    assert bought.status_code == 201, bought.content
    _second, second = signed_in(make_user)
    refused(second.post(PROMOTION, {"code": code}, format="json"), "This code has been used up.")


def test_a_first_purchase_only_code_is_refused_to_a_customer_who_bought_before(
    stripe_ready, make_user
):
    code = make_code(stripe_ready, restrictions={"first_time_transaction": True})
    _new, newcomer = signed_in(make_user)
    assert newcomer.post(PROMOTION, {"code": code}, format="json").status_code == 200

    _user, client = signed_in(make_user)
    bought = client.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json")
    assert bought.status_code == 201
    assert client.post(CANCEL, {"at_period_end": False}, format="json").status_code == 200
    sentence = "This code is for a first purchase only."
    refused(client.post(PROMOTION, {"code": code}, format="json"), sentence)
    refused(
        client.post(
            CREATE, {"payment_method_id": "pm_card_visa", "promotion_code": code}, format="json"
        ),
        sentence,
    )


def test_a_code_and_the_trial_together_are_refused(stripe_ready, make_user):
    code = make_code(stripe_ready)
    _user, client = signed_in(make_user)
    answer = client.post(CREATE, {"promotion_code": code, "trial": True}, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"] == "A promotion code cannot be combined with the free trial."
    assert answer.json()["code"] == "invalid"
    assert stripe_client.CALLS["subscriptions.create"] == 0


def test_the_check_needs_a_code_a_known_price_and_a_signed_in_caller(stripe_ready, make_user):
    _user, client = signed_in(make_user)
    missing = client.post(PROMOTION, {}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "required"
    price = client.post(PROMOTION, {"code": "WELCOME50", "price": "price_nope"}, format="json")
    assert price.status_code == 400 and price.json()["code"] == "invalid_price"
    guest = APIClient().post(PROMOTION, {"code": "WELCOME50"}, format="json")
    assert guest.status_code == 401


def test_checking_codes_is_rate_limited_like_the_other_stripe_calls(
    stripe_ready, make_user, settings
):
    """Guessing codes costs a Stripe call each: the per-user Stripe budget stops it."""
    settings.BILLING_RATE_STRIPE_CALLS_USER = "3/hour"
    _user, client = signed_in(make_user)
    for _ in range(3):
        refused(
            client.post(PROMOTION, {"code": "GUESS1"}, format="json"), "This code does not exist."
        )
    stripe_client.CALLS.clear()
    answer = client.post(PROMOTION, {"code": "GUESS2"}, format="json")
    assert answer.status_code == 429 and answer.json()["code"] == "throttled"
    assert int(answer["Retry-After"]) > 0
    assert stripe_client.CALLS["promotion_codes.list"] == 0


@pytest.mark.parametrize(
    ("terms", "interval", "described"),
    [
        ({"percent_off": 50.0, "duration": "once"}, "month", "50% off the first payment"),
        ({"percent_off": 12.5, "duration": "forever"}, "month", "12.5% off every payment"),
        ({"percent_off": 20.0, "duration": "repeating", "duration_in_months": 1}, "month",
         "20% off the first month"),
        ({"amount_off": 500, "currency": "usd", "duration": "repeating",
          "duration_in_months": 3}, "year", "$5.00 off the first payment"),
        ({"amount_off": 1000, "currency": "chf", "duration": "once"}, "month",
         "10.00 CHF off the first payment"),
    ],
)  # fmt: skip
def test_the_description_says_what_the_coupon_takes_off_and_for_how_long(
    terms: dict, interval: str, described: str
) -> None:
    promotion = promotions.Promotion(
        code="X",
        promotion_code_id="promo_x",
        percent_off=terms.get("percent_off"),
        amount_off=terms.get("amount_off"),
        currency=terms.get("currency"),
        duration=terms["duration"],
        duration_in_months=terms.get("duration_in_months"),
    )
    assert promotion.description(interval=interval) == described


def test_a_code_stripe_refuses_at_the_purchase_is_a_400_and_the_next_purchase_is_new(
    stripe_ready, make_user, monkeypatch
):
    """The code is used up between the server's check and Stripe's create (another customer
    took its last redemption): Stripe refuses the discount (400, ``param:
    discounts[0][promotion_code]``). The buyer gets our 400 with a sentence, not a 502, and
    the attempt counts as answered, so a purchase without the code right after gets a new
    idempotency key instead of Stripe replaying the refusal for 24 hours.

    No Stripe call is mocked: the check is wrapped only to run the other customer's purchase
    at that exact moment (a race no request order can produce), and it runs at the stand-in.
    """
    code = make_code(stripe_ready, max_redemptions=1)
    user, client = signed_in(make_user)
    assert client.post(PROMOTION, {"code": code}, format="json").status_code == 200
    real_check = promotions.promotion_code_check
    raced: list[str] = []

    def check_then_lose_the_race(**kwargs: Any) -> promotions.Promotion:
        promotion = real_check(**kwargs)
        if not raced:  # another customer redeems the last use, at Stripe, right now
            dashboard = stand_in(stripe_ready)
            other = dashboard.v1.customers.create(params={"email": "other@example.com"})
            dashboard.v1.subscriptions.create(
                params={"customer": other.id, "items": [{"price": services.price_get().id}],
                        "discounts": [{"promotion_code": promotion.promotion_code_id}],
                        "payment_behavior": "default_incomplete"}
            )  # fmt: skip
            raced.append(other.id)
        return promotion

    monkeypatch.setattr(promotions, "promotion_code_check", check_then_lose_the_race)
    answer = client.post(
        CREATE, {"payment_method_id": "pm_card_visa", "promotion_code": code}, format="json"
    )
    assert raced
    refused(answer, "This code has been used up.")  # the second look finds the reason
    account = BillingAccount.objects.get(user=user)
    assert account.subscription_id == "" and account.last_purchase_at is not None
    customer = account.stripe_customer_id
    made = stand_in(stripe_ready).v1.subscriptions.list(params={"customer": customer}).data
    assert made == []  # Stripe created nothing

    bought = client.post(CREATE, {"payment_method_id": "pm_card_visa"}, format="json")
    assert bought.status_code == 201, bought.content
    assert bought.json()["premium"] is True
    [invoice] = client.get(INVOICES).json()["results"]
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 2000)
