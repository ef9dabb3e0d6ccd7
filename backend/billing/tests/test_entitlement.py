"""The entitlement rule (docs/api.md, "Tiers and entitlement"), on Stripe's own example
objects (current and old shape)."""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billing import entitlement

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "stripe_fixtures3.json").read_text())
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
GRACE = timedelta(days=3)


def current_shape(status: str, *, period_end: datetime, cancel_at_period_end: bool = False) -> dict:
    """Stripe's fixture subscription (API ≥ 2025-03-31: period on the item)."""
    sub = copy.deepcopy(FIXTURES["subscription"])
    sub.update(status=status, cancel_at_period_end=cancel_at_period_end, cancel_at=None)
    assert "current_period_end" not in sub  # the current shape has none at the top
    for item in sub["items"]["data"]:
        item["current_period_start"] = int((period_end - timedelta(days=30)).timestamp())
        item["current_period_end"] = int(period_end.timestamp())
    return sub


def old_shape(status: str, *, period_end: datetime, cancel_at_period_end: bool = False) -> dict:
    """The pre-2025 shape: the period on the subscription, none on the items."""
    sub = current_shape(status, period_end=period_end, cancel_at_period_end=cancel_at_period_end)
    for item in sub["items"]["data"]:
        del item["current_period_start"], item["current_period_end"]
    sub["current_period_end"] = int(period_end.timestamp())
    return sub


SHAPES = [current_shape, old_shape]
FUTURE = NOW + timedelta(days=20)
PAST = NOW - timedelta(days=1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("status", "period_end", "premium"),
    [
        ("active", FUTURE, True),
        ("trialing", FUTURE, True),
        ("active", PAST, False),
        ("trialing", PAST, False),
        ("past_due", PAST, True),  # one day past the end: inside the 3-day grace
        ("past_due", NOW - timedelta(days=4), False),  # beyond the grace
        ("past_due", FUTURE, True),
        ("incomplete", FUTURE, False),
        ("incomplete_expired", FUTURE, False),
        ("unpaid", FUTURE, False),
        ("canceled", FUTURE, False),
        ("paused", FUTURE, False),
    ],
)
def test_every_status_follows_the_rule(shape, status, period_end, premium):
    sub = shape(status, period_end=period_end)
    assert entitlement.is_premium_subscription(sub, now=NOW, grace=GRACE) is premium


@pytest.mark.parametrize("shape", SHAPES)
def test_cancel_at_period_end_stays_premium_until_that_end(shape):
    sub = shape("active", period_end=FUTURE, cancel_at_period_end=True)
    assert entitlement.is_premium_subscription(sub, now=NOW, grace=GRACE)
    assert not entitlement.is_premium_subscription(
        sub, now=FUTURE + timedelta(seconds=1), grace=GRACE
    )
    assert entitlement.is_cancelling(sub)


@pytest.mark.parametrize("shape", SHAPES)
def test_period_end_is_read_from_either_shape(shape):
    sub = shape("active", period_end=FUTURE)
    assert entitlement.period_end(sub) == FUTURE.replace(microsecond=0)


def test_current_api_cancel_at_counts_as_cancelling():
    sub = current_shape("active", period_end=FUTURE)
    sub["cancel_at"] = int(FUTURE.timestamp())
    assert entitlement.is_cancelling(sub)


def test_stripe_fixture_subscription_parses_as_is():
    """Stripe's published example, untouched: item-level period, cancel scheduled."""
    sub = FIXTURES["subscription"]
    end = entitlement.period_end(sub)
    assert end == datetime.fromtimestamp(sub["items"]["data"][0]["current_period_end"], tz=UTC)
    snap = entitlement.snapshot(sub)
    assert snap.stripe_status == "active" and snap.cancel_at_period_end


def test_no_subscription_is_not_premium():
    assert entitlement.premium_until(None) is None
    assert not entitlement.is_premium_subscription({}, now=NOW)


@pytest.mark.parametrize(
    ("status", "cancel", "premium", "state"),
    [
        ("", False, False, "none"),
        ("incomplete", False, False, "incomplete"),
        ("active", False, True, "active"),
        ("active", True, True, "cancelling"),
        ("active", False, False, "none"),
        ("past_due", False, True, "past_due"),
        ("past_due", False, False, "none"),
        ("canceled", False, False, "cancelled"),
        ("incomplete_expired", False, False, "none"),
    ],
)
def test_state_words(status, cancel, premium, state):
    assert entitlement.state_for(status, cancel_at_period_end=cancel, premium=premium) == state


def test_choose_prefers_the_granting_subscription_whatever_the_order():
    old_paid = current_shape("active", period_end=FUTURE) | {"id": "sub_paid", "created": 100}
    newer_failed = current_shape("incomplete_expired", period_end=FUTURE) | {
        "id": "sub_failed",
        "created": 200,
    }
    for subs in ([old_paid, newer_failed], [newer_failed, old_paid]):
        assert entitlement.choose_subscription(subs, now=NOW)["id"] == "sub_paid"


def test_choose_takes_the_newest_when_none_grants():
    a = current_shape("canceled", period_end=PAST) | {"id": "sub_a", "created": 100}
    b = current_shape("canceled", period_end=PAST) | {"id": "sub_b", "created": 300}
    assert entitlement.choose_subscription([a, b], now=NOW)["id"] == "sub_b"
