"""Subscription schedules on an existing subscription: from_subscription, phases (yearly →
monthly at the end of the paid year), renewals at a phase boundary, release, cancel, the
subscription's ``schedule`` and Stripe's refusals — with stripe-python against the running
stand-in, the webhooks received and signature-checked by a local endpoint."""

from __future__ import annotations

import uuid

import pytest
import stripe

from fakestripe.testing import WebhookReceiver, premium_prices

SECRET = "whsec_schedules"
MONTHLY, YEARLY = 2000, 20000
DAY = 86400


@pytest.fixture(scope="module")
def hooks(fake):
    receiver = WebhookReceiver(SECRET)
    fake.register_webhook(receiver.url, SECRET, name="schedules")
    yield receiver
    fake.unregister_webhook("schedules")
    receiver.close()


@pytest.fixture(scope="module")
def plans(client):
    return premium_prices(
        client, "schedules", {"monthly": (MONTHLY, "month"), "yearly": (YEARLY, "year")}
    )


def subscribe(client, price):
    cus = client.v1.customers.create(params={"email": f"s{uuid.uuid4().hex[:10]}@example.com"})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "default_payment_method": pm.id}
    )
    assert sub.status == "active"
    return sub


def about(event_type, object_id):
    return lambda e: e.type == event_type and e.data.object.id == object_id


def previous(event):
    return event.data.to_dict().get("previous_attributes", {})


def yearly_then_monthly(client, plans, sub):
    """What the app does for "yearly → monthly at the end of the paid year"."""
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    phase = schedule.phases[0]
    return client.v1.subscription_schedules.update(
        schedule.id,
        {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": plans["yearly"].id}],
                    "start_date": phase.start_date,
                    "end_date": phase.end_date,
                },
                {
                    "items": [{"price": plans["monthly"].id}],
                    "duration": {"interval": "month", "interval_count": 1},
                },
            ],
        },
    )


def test_from_subscription(client, plans, hooks):
    sub = subscribe(client, plans["yearly"])
    item = sub["items"].data[0]

    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})

    assert schedule.id.startswith("sub_sched_") and schedule.object == "subscription_schedule"
    assert schedule.status == "active" and schedule.end_behavior == "release"
    assert schedule.subscription == sub.id and schedule.customer == sub.customer
    assert schedule.released_at is None and schedule.canceled_at is None
    (phase,) = schedule.phases
    assert (phase.start_date, phase.end_date) == (
        item.current_period_start,
        item.current_period_end,
    )
    assert phase["items"][0].price == plans["yearly"].id and phase["items"][0].quantity == 1
    assert phase.proration_behavior == "create_prorations" and phase.currency == "usd"
    assert schedule.current_phase.start_date == phase.start_date
    assert schedule.current_phase.end_date == phase.end_date
    assert schedule.default_settings.collection_method == "charge_automatically"
    assert client.v1.subscription_schedules.retrieve(schedule.id).to_dict() == schedule.to_dict()
    expanded = client.v1.subscriptions.retrieve(sub.id, {"expand": ["schedule"]})
    assert expanded.schedule.id == schedule.id
    hooks.wait_for(about("subscription_schedule.created", schedule.id))
    updated = hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and previous(e).get("schedule", "absent") is None
        )
    )[0]
    assert updated.data.object.schedule == schedule.id


def test_yearly_to_monthly_at_the_end_of_the_year_then_released(fake, client, plans, hooks):
    sub = subscribe(client, plans["yearly"])
    year_end = sub["items"].data[0].current_period_end

    schedule = yearly_then_monthly(client, plans, sub)

    first, second = schedule.phases
    assert first.end_date == second.start_date == year_end
    assert 28 * DAY <= second.end_date - second.start_date <= 31 * DAY
    assert second["items"][0].price == plans["monthly"].id
    assert schedule.current_phase.end_date == year_end
    changed = hooks.wait_for(
        lambda e: about("subscription_schedule.updated", schedule.id)(e) and "phases" in previous(e)
    )[0]
    assert len(previous(changed)["phases"]) == 1
    unchanged = client.v1.subscriptions.retrieve(sub.id)
    assert unchanged["items"].data[0].price.id == plans["yearly"].id  # not before the year ends
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.amount_due == MONTHLY  # the renewal will charge the monthly price

    renewed = fake.renew(sub.id)  # the paid year ends

    invoice = client.v1.invoices.retrieve(renewed["latest_invoice"]["id"])
    assert invoice.amount_paid == MONTHLY and invoice.billing_reason == "subscription_cycle"
    now = client.v1.subscriptions.retrieve(sub.id)
    item = now["items"].data[0]
    assert item.price.id == plans["monthly"].id
    assert item.current_period_start == year_end
    assert 28 * DAY <= item.current_period_end - item.current_period_start <= 31 * DAY
    assert now.schedule == schedule.id
    moved = client.v1.subscription_schedules.retrieve(schedule.id)
    assert moved.current_phase.start_date == year_end and moved.status == "active"
    hooks.wait_for(
        lambda e: (
            about("subscription_schedule.updated", schedule.id)(e)
            and "current_phase" in previous(e)
        )
    )

    fake.renew(sub.id)  # the last phase ends: released, the subscription goes on monthly

    released = client.v1.subscription_schedules.retrieve(schedule.id)
    assert released.status == "released" and released.released_subscription == sub.id
    assert released.subscription is None and released.current_phase is None
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.schedule is None and after.status == "active"
    assert after["items"].data[0].price.id == plans["monthly"].id
    assert client.v1.invoices.retrieve(after.latest_invoice).amount_paid == MONTHLY
    hooks.wait_for(about("subscription_schedule.released", schedule.id))
    hooks.wait_for(
        lambda e: (
            about("customer.subscription.updated", sub.id)(e)
            and previous(e).get("schedule") == schedule.id
        )
    )


def test_release_keeps_the_subscription_as_it_is(client, plans, hooks):
    sub = subscribe(client, plans["yearly"])
    schedule = yearly_then_monthly(client, plans, sub)

    released = client.v1.subscription_schedules.release(schedule.id)

    assert released.status == "released" and released.released_at is not None
    assert released.released_subscription == sub.id and released.subscription is None
    now = client.v1.subscriptions.retrieve(sub.id)
    assert now.schedule is None and now["items"].data[0].price.id == plans["yearly"].id
    hooks.wait_for(about("subscription_schedule.released", schedule.id))
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.subscription_schedules.release(schedule.id)
    assert again.value.http_status == 400
    assert "`released` status" in again.value.user_message
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "cancel"})
    # a released subscription can get a new schedule
    assert client.v1.subscription_schedules.create(params={"from_subscription": sub.id}).id


def test_cancel_ends_the_schedule_and_the_subscription(client, plans, hooks):
    sub = subscribe(client, plans["yearly"])
    schedule = yearly_then_monthly(client, plans, sub)

    canceled = client.v1.subscription_schedules.cancel(schedule.id)

    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    hooks.wait_for(about("subscription_schedule.canceled", schedule.id))
    hooks.wait_for(about("customer.subscription.deleted", sub.id))


def test_canceling_the_subscription_cancels_its_schedule(client, plans):
    sub = subscribe(client, plans["yearly"])
    schedule = yearly_then_monthly(client, plans, sub)

    client.v1.subscriptions.cancel(sub.id)

    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "canceled"


def test_end_behavior_cancel_ends_the_subscription_after_the_last_phase(fake, client, plans):
    sub = subscribe(client, plans["monthly"])
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "cancel"})

    ended = fake.renew(sub.id)

    assert ended["status"] == "canceled"
    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "completed"


def test_a_scheduled_subscription_refuses_direct_cancelation_settings(client, plans):
    sub = subscribe(client, plans["yearly"])
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})

    for params in ({"cancel_at_period_end": True}, {"cancel_at": sub.created + 100 * DAY}):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.update(sub.id, params)
        assert refused.value.user_message == (
            f"The subscription is managed by the subscription schedule `{schedule.id}`, and "
            "updating any cancelation behavior directly is not allowed. Please update the "
            "schedule instead."
        )
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False


def test_refusals(client, plans):
    sub = subscribe(client, plans["yearly"])
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    start = schedule.phases[0].start_date
    monthly = [{"price": plans["monthly"].id}]
    yearly = [{"price": plans["yearly"].id}]

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscription_schedules.retrieve("sub_sched_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    cases = [
        # a second schedule on the same subscription
        lambda: client.v1.subscription_schedules.create(params={"from_subscription": sub.id}),
        lambda: client.v1.subscription_schedules.create(
            params={"from_subscription": sub.id, "phases": [{"items": monthly}]}
        ),
        # iterations: removed by 2025-09-30.clover
        lambda: client.v1.subscription_schedules.update(
            schedule.id, {"phases": [{"items": yearly, "start_date": start, "iterations": 1}]}
        ),
        # the current phase's start cannot move
        lambda: client.v1.subscription_schedules.update(
            schedule.id, {"phases": [{"items": yearly, "start_date": start + DAY}]}
        ),
        lambda: client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "renew"}),
        lambda: client.v1.subscription_schedules.update(
            schedule.id,
            {"phases": [{"items": yearly, "start_date": start}, {"items": [{"price": "nope"}]}]},
        ),
    ]
    for case in cases:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            case()
        assert refused.value.http_status in (400, 404) and refused.value.user_message
    unchanged = client.v1.subscription_schedules.retrieve(schedule.id)
    assert unchanged.to_dict() == schedule.to_dict()


# -- phase discounts and the schedule's default card -------------------------------------------


def discounted(client, plans):
    """A yearly subscription with a `forever` 50 % coupon."""
    coupon = client.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    cus = client.v1.customers.create(params={"email": f"d{uuid.uuid4().hex[:10]}@example.com"})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": plans["yearly"].id}],
            "default_payment_method": pm.id,
            "discounts": [{"coupon": coupon.id}],
        }
    )
    assert sub.status == "active" and len(sub.discounts) == 1
    return sub


def downgrade(client, plans, sub, *, keep_discount):
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    phase = schedule.phases[0]
    assert [d.discount for d in phase.discounts] == list(sub.discounts)  # carried over
    carried = {"discounts": [{"discount": d.discount} for d in phase.discounts]}
    return client.v1.subscription_schedules.update(
        schedule.id,
        {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": plans["yearly"].id}],
                    "start_date": phase.start_date,
                    "end_date": phase.end_date,
                    **(carried if keep_discount else {}),
                },
                {
                    "items": [{"price": plans["monthly"].id}],
                    "duration": {"interval": "month", "interval_count": 1},
                    **(carried if keep_discount else {}),
                },
            ],
        },
    )


def test_phases_that_keep_the_discount_bill_the_monthly_renewal_discounted(fake, client, plans):
    sub = discounted(client, plans)
    schedule = downgrade(client, plans, sub, keep_discount=True)
    assert [len(p.discounts) for p in schedule.phases] == [1, 1]
    fake.renew(sub.id)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert renewed["items"].data[0].price.id == plans["monthly"].id
    assert renewed.discounts == sub.discounts
    assert renewed.latest_invoice.amount_paid == MONTHLY // 2


def test_phases_without_discounts_drop_the_subscriptions_discount_as_stripe_does(
    fake, client, plans
):
    sub = discounted(client, plans)
    downgrade(client, plans, sub, keep_discount=False)
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []  # the first phase holds now
    fake.renew(sub.id)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert renewed.latest_invoice.amount_paid == MONTHLY


def test_a_phase_takes_only_the_subscriptions_own_discounts(client, plans):
    sub = discounted(client, plans)
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    phase = schedule.phases[0]
    for discounts, param in (
        ([{"coupon": "whatever"}], "phases[0][discounts][0]"),
        ([{"discount": "di_not_this_one"}], "phases[0][discounts][0][discount]"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscription_schedules.update(
                schedule.id,
                {
                    "phases": [
                        {
                            "items": [{"price": plans["yearly"].id}],
                            "start_date": phase.start_date,
                            "end_date": phase.end_date,
                            "discounts": discounts,
                        }
                    ]
                },
            )
        assert refused.value.param == param
    assert len(client.v1.subscriptions.retrieve(sub.id).discounts) == 1  # nothing changed


def test_the_schedules_default_card_pays_from_the_next_phase(fake, client, plans):
    sub = subscribe(client, plans["yearly"])
    schedule = yearly_then_monthly(client, plans, sub)
    new_card = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": sub.customer})
    updated = client.v1.subscription_schedules.update(
        schedule.id, {"default_settings": {"default_payment_method": new_card.id}}
    )
    assert updated.default_settings.default_payment_method == new_card.id
    assert client.v1.subscriptions.retrieve(sub.id).default_payment_method == (
        sub.default_payment_method
    )  # not before the phase starts
    fake.renew(sub.id)
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed.default_payment_method == new_card.id
    invoice = client.v1.invoices.retrieve(
        renewed.latest_invoice, {"expand": ["payments.data.payment.payment_intent"]}
    )
    assert invoice.status == "paid"
    assert invoice.payments.data[0].payment.payment_intent.payment_method == new_card.id


def test_a_default_card_of_another_customer_is_refused(client, plans):
    sub = subscribe(client, plans["yearly"])
    schedule = yearly_then_monthly(client, plans, sub)
    other = subscribe(client, plans["monthly"])
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.update(
            schedule.id,
            {"default_settings": {"default_payment_method": other.default_payment_method}},
        )
