"""``POST /v1/invoices/create_preview`` (stripe-python ``invoices.create_preview``): what a price
change, a renewal or a new subscription will charge — and that the real call then charges
exactly that, and that a preview changes nothing."""

from __future__ import annotations

import uuid

import pytest
import stripe

from fakestripe.testing import premium_prices

MONTHLY, YEARLY = 2000, 20000


@pytest.fixture(scope="module")
def plans(client):
    return premium_prices(
        client,
        "preview",
        {
            "monthly": (MONTHLY, "month"),
            "yearly": (YEARLY, "year"),
            "monthly_plus": (3500, "month"),
        },
    )


def subscribe(client, price):
    cus = client.v1.customers.create(params={"email": f"v{uuid.uuid4().hex[:10]}@example.com"})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "default_payment_method": pm.id}
    )
    assert sub.status == "active"
    return sub


def item_of(sub):
    return sub["items"].data[0]


def details(sub, price, behavior, when):
    return {
        "items": [{"id": item_of(sub).id, "price": price.id}],
        "proration_behavior": behavior,
        "proration_date": when,
    }


def snapshot(client, sub):
    """What a preview must not change: the subscription, its invoices, pending items, events."""
    return (
        client.v1.subscriptions.retrieve(sub.id).to_dict(),
        [i.id for i in client.v1.invoices.list({"customer": sub.customer, "limit": 100}).data],
        [i.id for i in client.v1.invoice_items.list({"customer": sub.customer}).data],
        client.v1.events.list({"limit": 1}).data[0].id,
    )


def test_a_preview_is_exactly_what_the_change_then_charges(client, plans):
    sub = subscribe(client, plans["monthly"])
    period = (item_of(sub).current_period_start, item_of(sub).current_period_end)
    when = period[0] + (period[1] - period[0]) * 2 // 5
    before = snapshot(client, sub)

    preview = client.v1.invoices.create_preview(
        params={
            "customer": sub.customer,
            "subscription": sub.id,
            "subscription_details": details(sub, plans["yearly"], "always_invoice", when),
        }
    )

    assert snapshot(client, sub) == before  # nothing stored, no event
    assert preview.id.startswith("upcoming_in_") and preview.status == "draft"
    assert preview.billing_reason == "subscription_update"
    assert preview.parent.subscription_details.subscription == sub.id
    assert 0 < preview.amount_due < YEARLY
    credit, full = sorted(preview.lines.data, key=lambda line: line.amount)
    assert credit.parent.subscription_item_details.proration is True
    assert credit.parent.subscription_item_details.subscription_item == item_of(sub).id
    assert full.amount == YEARLY and full.parent.subscription_item_details.proration is False
    assert all(line.invoice == preview.id for line in preview.lines.data)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.retrieve(preview.id)

    changed = client.v1.subscriptions.update(
        sub.id,
        {
            "items": [{"id": item_of(sub).id, "price": plans["yearly"].id}],
            "proration_behavior": "always_invoice",
            "proration_date": when,
            "payment_behavior": "pending_if_incomplete",
            "expand": ["latest_invoice"],
        },
    )

    assert changed.latest_invoice.amount_paid == preview.amount_due
    assert sorted(line.amount for line in changed.latest_invoice.lines.data) == sorted(
        line.amount for line in preview.lines.data
    )


def test_previews_of_each_proration_behaviour_match_what_is_billed(fake, client, plans):
    for behavior in ("always_invoice", "create_prorations", "none"):
        sub = subscribe(client, plans["monthly"])
        period = (item_of(sub).current_period_start, item_of(sub).current_period_end)
        when = period[0] + (period[1] - period[0]) // 2
        preview = client.v1.invoices.create_preview(
            params={
                "subscription": sub.id,
                "subscription_details": details(sub, plans["monthly_plus"], behavior, when),
            }
        )
        changed = client.v1.subscriptions.update(
            sub.id,
            {
                "items": [{"id": item_of(sub).id, "price": plans["monthly_plus"].id}],
                "proration_behavior": behavior,
                "proration_date": when,
            },
        )
        if behavior == "always_invoice":  # invoiced now: the prorations only
            billed = client.v1.invoices.retrieve(changed.latest_invoice)
            assert preview.billing_reason == "subscription_update"
        else:  # the next invoice: the renewal, with the prorations if any
            billed = client.v1.invoices.retrieve(fake.renew(sub.id)["latest_invoice"]["id"])
            assert preview.billing_reason == "subscription_cycle"
            assert preview.lines.data[-1].period.start == period[1]
        assert billed.amount_paid == preview.amount_due, behavior
        assert (
            len(billed.lines.data)
            == len(preview.lines.data)
            == {
                "always_invoice": 2,
                "create_prorations": 3,
                "none": 1,
            }[behavior]
        )


def test_the_next_renewal_without_a_change(client, plans):
    sub = subscribe(client, plans["monthly"])

    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})

    assert preview.amount_due == MONTHLY and preview.billing_reason == "subscription_cycle"
    (line,) = preview.lines.data
    assert line.period.start == item_of(sub).current_period_end
    assert (preview.period_start, preview.period_end) == (
        item_of(sub).current_period_start,
        item_of(sub).current_period_end,
    )


def test_a_new_subscription(client, plans):
    cus = client.v1.customers.create(params={"email": f"n{uuid.uuid4().hex[:10]}@example.com"})
    count = len(client.v1.subscriptions.list({"customer": cus.id, "status": "all"}).data)

    preview = client.v1.invoices.create_preview(
        params={
            "customer": cus.id,
            "subscription_details": {"items": [{"price": plans["yearly"].id}]},
        }
    )

    assert preview.amount_due == YEARLY and preview.billing_reason == "subscription_create"
    assert preview.customer == cus.id and preview.parent is None
    (line,) = preview.lines.data
    assert line.pricing.price_details.price == plans["yearly"].id
    assert 365 * 86400 <= line.period.end - line.period.start <= 366 * 86400
    assert len(client.v1.subscriptions.list({"customer": cus.id, "status": "all"}).data) == count
    assert client.v1.invoices.list({"customer": cus.id}).data == []


def test_refusals(client, plans):
    sub = subscribe(client, plans["monthly"])
    other = client.v1.customers.create(params={"email": "other@example.com"})
    cases = [
        ({"subscription": "sub_nope"}, 404, "resource_missing"),
        ({"customer": other.id, "subscription": sub.id}, 400, None),
        ({"customer": other.id}, 400, "invoice_no_customer_line_items"),
        ({"subscription": sub.id, "subscription_details": {"iterations": 2}}, 400, None),
        ({"subscription": sub.id, "bogus": 1}, 400, None),
        (
            {
                "subscription": sub.id,
                "subscription_details": {
                    "items": [{"id": item_of(sub).id, "price": plans["yearly"].id}],
                    "proration_behavior": "later",
                },
            },
            400,
            None,
        ),
    ]
    for params, status, code in cases:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.invoices.create_preview(params=params)
        assert refused.value.http_status == status, params
        assert refused.value.code == code, params
        assert refused.value.user_message

    client.v1.subscriptions.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError) as ended:
        client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert ended.value.http_status == 404 and ended.value.code == "invoice_upcoming_none"
