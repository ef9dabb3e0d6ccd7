"""Reading Stripe objects (billing.stripe_objects): plain dicts and stripe-python objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import stripe

from billing.stripe_objects import field, iso, object_id, timestamp

DATA = {"id": "sub_1", "status": "active", "customer": {"id": "cus_1", "object": "customer"}}


def as_stripe(data: dict) -> stripe.StripeObject:
    """What stripe-python hands back: not a dict (no ``.get``) since v13."""
    return stripe.StripeObject.construct_from(data, "sk_test_x")


@pytest.fixture(params=["dict", "stripe"])
def obj(request):
    return DATA if request.param == "dict" else as_stripe(DATA)


def test_field_reads_either_kind(obj):
    assert field(obj, "status") == "active"
    assert field(obj, "missing") is None
    assert field(obj, "missing", "x") == "x"
    assert field(field(obj, "customer"), "id") == "cus_1"


def test_field_of_nothing_is_the_default():
    assert field(None, "id") is None
    assert field(None, "id", 0) == 0
    assert field("sub_1", "id") is None  # an id, not an expanded object


def test_object_id_of_an_id_or_an_expanded_object(obj):
    assert object_id(field(obj, "customer")) == "cus_1"
    assert object_id("cus_2") == "cus_2"
    assert object_id(obj) == "sub_1"
    assert object_id(None) == "" and object_id("") == "" and object_id({}) == ""


def test_timestamp_is_an_aware_utc_datetime():
    when = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert timestamp(int(when.timestamp())) == when
    assert timestamp(str(int(when.timestamp()))) == when
    assert timestamp(when.replace(tzinfo=None)) == when  # naive: taken as UTC
    plus_one = when.astimezone(timezone(timedelta(hours=1)))
    assert timestamp(plus_one) == when and timestamp(plus_one) is plus_one
    assert timestamp(None) is None and timestamp("") is None


def test_iso_is_utc_with_a_z():
    assert iso(datetime(2026, 11, 26, 12, 0, tzinfo=UTC)) == "2026-11-26T12:00:00Z"
    assert iso(datetime(2026, 11, 26, 12, 0, 30, 5, tzinfo=UTC)) == "2026-11-26T12:00:30.000005Z"
    assert iso(None) is None
