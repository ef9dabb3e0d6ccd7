"""Coupons, promotion codes and discounts in the stand-in, driven with stripe-python 15 the way
the app's purchase with a promotion code calls them (current API shape: ``promotion: {type,
coupon}``, subscription ``discounts`` as ids, invoice ``total_discount_amounts``)."""

from __future__ import annotations

import time
import uuid

import pytest
import stripe

from fakestripe import testing
from fakestripe.launcher import FakeStripe

MAX_USED = (
    "This promotion code cannot be redeemed because it has been used the maximum number of times."
)
PRIOR = (
    "This promotion code cannot be redeemed because the associated customer has prior transactions."
)


@pytest.fixture(scope="module")
def monthly(client):
    """USD 20 a month, the Premium price of issue 15."""
    return testing.premium_price(client, amount=2000)


def new_customer(client):
    return client.v1.customers.create(params={"email": f"c{uuid.uuid4().hex[:8]}@example.com"})


def unique_code(prefix: str = "WELCOME") -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


def coupon(client, **params):
    return client.v1.coupons.create(params={"percent_off": 50, "duration": "once", **params})


def promotion_code(client, coupon_id: str, **params):
    return client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon_id}, **params}
    )


def subscribe(client, customer_id, price_id, discounts, **params):
    return client.v1.subscriptions.create(
        params={
            "customer": customer_id,
            "items": [{"price": price_id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "discounts": discounts,
            "expand": ["latest_invoice.confirmation_secret", "discounts.source.coupon"],
            **params,
        }
    )


def pay_first_invoice(client, sub, card="pm_card_visa"):
    secret = sub.latest_invoice.confirmation_secret.client_secret
    return client.v1.payment_intents.confirm(secret.split("_secret_")[0], {"payment_method": card})


def refusal(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call()
    assert info.value.http_status == 400
    return info.value


# -- coupons ---------------------------------------------------------------------------------------


def test_coupon_shape_and_applies_to_only_when_expanded(client, monthly):
    made = coupon(
        client, name="50% off the first payment", applies_to={"products": [monthly.product]}
    )
    assert made.object == "coupon"
    assert (made.percent_off, made.amount_off, made.duration) == (50.0, None, "once")
    assert made.duration_in_months is None and made.valid is True and made.times_redeemed == 0
    assert made.name == "50% off the first payment"
    assert len(made.id) == 8
    assert "applies_to" not in made  # Stripe includes it only on request
    again = client.v1.coupons.retrieve(made.id, {"expand": ["applies_to"]})
    assert again.applies_to.products == [monthly.product]
    default = client.v1.coupons.create(params={"amount_off": 500, "currency": "usd"})
    assert default.duration == "once" and default.currency == "usd"


@pytest.mark.parametrize(
    "params, param",
    [
        ({"percent_off": 50, "amount_off": 100, "currency": "usd"}, None),
        ({"duration": "once"}, None),
        ({"amount_off": 100}, "currency"),
        ({"percent_off": 150}, "percent_off"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months"),
        ({"percent_off": 10, "duration": "weekly"}, "duration"),
        ({"percent_off": 10, "applies_to": {"products": ["prod_nope"]}}, "applies_to[products][0]"),
        ({"percent_off": 10, "redeem_by": 1_000_000_000}, "redeem_by"),
        ({"percent_off": 10, "max_redemptions": 0}, "max_redemptions"),
        ({"percent_off": 10, "colour": "red"}, "colour"),
    ],
)
def test_coupon_refusals(client, params, param):
    error = refusal(lambda: client.v1.coupons.create(params=params))
    assert error.param == param


def test_coupon_id_taken_update_and_delete(client):
    cid = "TAKEN" + uuid.uuid4().hex[:6]
    coupon(client, id=cid)
    error = refusal(lambda: coupon(client, id=cid))
    assert error.code == "resource_already_exists"
    updated = client.v1.coupons.update(cid, {"name": "Renamed", "metadata": {"k": "v"}})
    assert (updated.name, updated.metadata["k"]) == ("Renamed", "v")
    assert client.v1.coupons.delete(cid).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.retrieve(cid)
    assert info.value.http_status == 404


# -- promotion codes -------------------------------------------------------------------------------


def test_promotion_code_shape_list_by_code_case_insensitive(client, monthly):
    made_coupon = coupon(client, applies_to={"products": [monthly.product]})
    code = unique_code()
    promo = promotion_code(client, made_coupon.id, code=code, max_redemptions=5)
    assert promo.object == "promotion_code" and promo.id.startswith("promo_")
    assert promo.promotion.type == "coupon" and promo.promotion.coupon == made_coupon.id
    assert "coupon" not in promo  # the current shape has promotion.coupon only
    assert (promo.code, promo.active, promo.max_redemptions, promo.times_redeemed) == (
        code,
        True,
        5,
        0,
    )
    assert promo.expires_at is None and promo.customer is None
    assert promo.restrictions.first_time_transaction is False
    found = client.v1.promotion_codes.list(
        params={
            "code": code.lower(),
            "active": True,
            "expand": ["data.promotion.coupon.applies_to"],
        }
    ).data
    assert [p.id for p in found] == [promo.id]
    assert found[0].promotion.coupon.percent_off == 50.0
    assert found[0].promotion.coupon.applies_to.products == [monthly.product]
    by_coupon = client.v1.promotion_codes.list(params={"coupon": made_coupon.id}).data
    assert [p.id for p in by_coupon] == [promo.id]
    assert client.v1.promotion_codes.list(params={"code": code + "X"}).data == []


def test_promotion_code_refusals_and_deactivation(client):
    made_coupon = coupon(client)
    code = unique_code()
    promo = promotion_code(client, made_coupon.id, code=code)
    error = refusal(lambda: promotion_code(client, made_coupon.id, code=code.lower()))
    assert error.param == "code"  # unique among active codes, whatever the case
    assert refusal(lambda: promotion_code(client, made_coupon.id, code="NO SPACES")).param == "code"
    assert refusal(lambda: promotion_code(client, "nope")).code == "resource_missing"
    error = refusal(
        lambda: client.v1.promotion_codes.create(
            params={"coupon": made_coupon.id, "code": unique_code()}  # the old shape
        )
    )
    assert "coupon" in error.user_message
    off = client.v1.promotion_codes.update(promo.id, {"active": False})
    assert off.active is False
    assert client.v1.promotion_codes.list(params={"code": code, "active": True}).data == []
    assert [p.id for p in client.v1.promotion_codes.list(params={"code": code}).data] == [promo.id]
    promotion_code(client, made_coupon.id, code=code)  # the code is free again
    error = refusal(lambda: client.v1.promotion_codes.update(promo.id, {"active": True}))
    assert error.param == "active"


# -- discounts on subscriptions -----------------------------------------------------------------


def test_fifty_percent_once_code_discounts_only_the_first_invoice(fake, client, monthly):
    made_coupon = coupon(client, applies_to={"products": [monthly.product]})
    promo = promotion_code(client, made_coupon.id, code=unique_code())
    cus = new_customer(client)
    sub = subscribe(client, cus.id, monthly.id, [{"promotion_code": promo.id}])
    assert sub.status == "incomplete"
    (discount,) = sub.discounts
    assert discount.object == "discount" and discount.promotion_code == promo.id
    assert discount.source.type == "coupon" and discount.source.coupon.id == made_coupon.id
    assert discount.subscription == sub.id and discount.customer == cus.id
    assert discount.end is None
    first = sub.latest_invoice
    assert (first.subtotal, first.total, first.amount_due) == (2000, 1000, 1000)
    assert first.total_excluding_tax == 1000
    assert first.discounts == [discount.id]
    assert [(d.amount, d.discount) for d in first.total_discount_amounts] == [(1000, discount.id)]
    line = first.lines.data[0]
    assert line.amount == 2000  # lines stay gross
    assert [(d.amount, d.discount) for d in line.discount_amounts] == [(1000, discount.id)]
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    assert client.v1.coupons.retrieve(made_coupon.id).times_redeemed == 1

    intent = pay_first_invoice(client, sub)
    assert (intent.status, intent.amount) == ("succeeded", 1000)
    paid = client.v1.invoices.retrieve(first.id)
    assert (paid.status, paid.amount_paid) == ("paid", 1000)

    renewed = fake.renew(sub.id)
    assert renewed["latest_invoice"]["amount_due"] == 2000
    assert renewed["latest_invoice"]["total_discount_amounts"] == []
    assert renewed["latest_invoice"]["status"] == "paid"
    assert renewed["discounts"] == []  # a used `once` discount leaves the subscription


def test_forever_amount_off_coupon_discounts_every_invoice(fake, client, monthly):
    made_coupon = client.v1.coupons.create(
        params={"amount_off": 500, "currency": "usd", "duration": "forever"}
    )
    cus = new_customer(client)
    client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": monthly.id}],
            "default_payment_method": "pm_card_visa",
            "discounts": [{"coupon": made_coupon.id}],
            "expand": ["latest_invoice"],
        }
    )
    assert sub.status == "active" and sub.latest_invoice.amount_paid == 1500
    for _ in range(2):
        renewed = fake.renew(sub.id)
        assert renewed["latest_invoice"]["amount_paid"] == 1500
        assert len(renewed["discounts"]) == 1


def test_repeating_coupon_ends_after_its_months(client, monthly):
    made_coupon = coupon(client, duration="repeating", duration_in_months=3, percent_off=25)
    sub = subscribe(client, new_customer(client).id, monthly.id, [{"coupon": made_coupon.id}])
    (discount,) = sub.discounts
    start = time.gmtime(discount.start)
    end = time.gmtime(discount.end)
    assert (end.tm_year * 12 + end.tm_mon) - (start.tm_year * 12 + start.tm_mon) == 3
    assert sub.latest_invoice.amount_due == 1500


def test_refused_codes_create_nothing(client, monthly):
    other_product = client.v1.products.create(params={"name": "Other"})
    cases = []
    inactive = promotion_code(client, coupon(client).id, code=unique_code(), active=False)
    cases.append(({"promotion_code": inactive.id}, "This promotion code is not active."))
    used_up = promotion_code(client, coupon(client).id, code=unique_code(), max_redemptions=1)
    subscribe(client, new_customer(client).id, monthly.id, [{"promotion_code": used_up.id}])
    cases.append(({"promotion_code": used_up.id}, MAX_USED))
    elsewhere = coupon(client, applies_to={"products": [other_product.id]})
    cases.append(
        (
            {"promotion_code": promotion_code(client, elsewhere.id, code=unique_code()).id},
            "This coupon cannot be redeemed because it does not apply to anything in this order.",
        )
    )
    cases.append(({"coupon": elsewhere.id}, None))
    cases.append(({"promotion_code": "promo_nope"}, "No such promotion code: 'promo_nope'"))
    soon = promotion_code(
        client, coupon(client).id, code=unique_code(), expires_at=int(time.time()) + 2
    )
    time.sleep(2.2)
    cases.append(({"promotion_code": soon.id}, "This promotion code has expired."))
    cus = new_customer(client)
    for discount, message in cases:
        error = refusal(lambda d=discount: subscribe(client, cus.id, monthly.id, [d]))
        assert error.param == f"discounts[0][{next(iter(discount))}]"
        if message is not None:
            assert error.user_message == message
    assert client.v1.subscriptions.list(params={"customer": cus.id, "status": "all"}).data == []
    assert client.v1.promotion_codes.retrieve(inactive.id).times_redeemed == 0


def test_first_time_transaction_code_refused_after_a_payment(client, monthly):
    first_time = promotion_code(
        client,
        coupon(client).id,
        code=unique_code(),
        restrictions={"first_time_transaction": True},
    )
    cus = new_customer(client)
    sub = subscribe(client, cus.id, monthly.id, [{"promotion_code": first_time.id}])
    pay_first_invoice(client, sub)
    client.v1.subscriptions.cancel(sub.id)
    error = refusal(
        lambda: subscribe(client, cus.id, monthly.id, [{"promotion_code": first_time.id}])
    )
    assert error.user_message == PRIOR


def test_discounts_on_update_apply_to_the_next_invoice(fake, client, monthly):
    cus = new_customer(client)
    client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": monthly.id}],
            "default_payment_method": "pm_card_visa",
        }
    )
    forever = coupon(client, duration="forever", percent_off=10)
    updated = client.v1.subscriptions.update(
        sub.id, {"discounts": [{"coupon": forever.id}], "expand": ["discounts"]}
    )
    assert [d.source.coupon for d in updated.discounts] == [forever.id]
    kept = client.v1.subscriptions.update(
        sub.id, {"discounts": [{"discount": updated.discounts[0].id}]}
    )
    assert kept.discounts == [updated.discounts[0].id]
    assert fake.renew(sub.id)["latest_invoice"]["amount_paid"] == 1800
    cleared = client.v1.subscriptions.update(sub.id, {"discounts": ""})
    assert cleared.discounts == []
    assert fake.renew(sub.id)["latest_invoice"]["amount_paid"] == 2000


# -- previews --------------------------------------------------------------------------------------


def test_preview_with_a_code_is_what_the_first_invoice_charges(client, monthly):
    made_coupon = coupon(client, applies_to={"products": [monthly.product]})
    promo = promotion_code(client, made_coupon.id, code=unique_code())
    cus = new_customer(client)
    preview = client.v1.invoices.create_preview(
        params={
            "customer": cus.id,
            "subscription_details": {"items": [{"price": monthly.id}]},
            "discounts": [{"promotion_code": promo.id}],
        }
    )
    assert (preview.subtotal, preview.amount_due) == (2000, 1000)
    assert [d.amount for d in preview.total_discount_amounts] == [1000]
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 0  # nothing redeemed
    sub = subscribe(client, cus.id, monthly.id, [{"promotion_code": promo.id}])
    intent = pay_first_invoice(client, sub)
    assert intent.amount == preview.amount_due == sub.latest_invoice.amount_due
    # the renewal's preview no longer has the used `once` discount
    renewal = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert renewal.amount_due == 2000 and renewal.total_discount_amounts == []


def test_preview_refuses_a_code_as_the_create_would(client, monthly):
    promo = promotion_code(client, coupon(client).id, code=unique_code(), active=False)
    error = refusal(
        lambda: client.v1.invoices.create_preview(
            params={
                "customer": new_customer(client).id,
                "subscription_details": {"items": [{"price": monthly.id}]},
                "discounts": [{"promotion_code": promo.id}],
            }
        )
    )
    assert error.user_message == "This promotion code is not active."
    assert error.param == "discounts[0][promotion_code]"


def test_preview_of_a_forever_discount_on_the_next_renewal(client, monthly):
    forever = client.v1.coupons.create(
        params={"amount_off": 300, "currency": "usd", "duration": "forever"}
    )
    cus = new_customer(client)
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": monthly.id}],
            "default_payment_method": "pm_card_visa",
            "discounts": [{"coupon": forever.id}],
        }
    )
    renewal = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert renewal.amount_due == 1700
    assert renewal.total_discount_amounts[0].discount == sub.discounts[0]


def test_codes_and_discounts_survive_a_restart(tmp_path):
    with FakeStripe(state_dir=str(tmp_path / "state")) as fs:
        c = testing.stripe_client(fs)
        price = testing.premium_price(c, amount=2000)
        promo = promotion_code(c, coupon(c, duration="forever").id, code=unique_code())
        sub = subscribe(c, new_customer(c).id, price.id, [{"promotion_code": promo.id}])
        fs.restart()
        c = testing.stripe_client(fs)
        again = c.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts", "latest_invoice"]})
        assert again.discounts[0].promotion_code == promo.id
        assert again.latest_invoice.amount_due == 1000
        found = c.v1.promotion_codes.list(params={"code": promo.code.lower()}).data
        assert [(p.id, p.times_redeemed) for p in found] == [(promo.id, 1)]
