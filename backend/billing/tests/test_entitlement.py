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


# --- The plan: price, trial, a change scheduled (issue 15) ---------------------------------


def schedule(sub: dict, *, status: str = "active", next_price: str = "price_monthly") -> dict:
    """A subscription schedule in Stripe's shape: the current phase until the period end, then
    one phase at ``next_price`` (what plan_changes makes for yearly -> monthly)."""
    item = sub["items"]["data"][0]
    start, end = item["current_period_start"], item["current_period_end"]
    return {
        "id": "sub_sched_1",
        "object": "subscription_schedule",
        "status": status,
        "end_behavior": "release",
        "current_phase": {"start_date": start, "end_date": end},
        "phases": [
            {"start_date": start, "end_date": end, "items": [{"price": item["price"]["id"]}]},
            {"start_date": end, "end_date": end + 30 * 86400, "items": [{"price": next_price}]},
        ],
    }


def test_snapshot_reads_the_price_and_a_scheduled_change():
    sub = current_shape("active", period_end=FUTURE)
    sub["schedule"] = schedule(sub)
    snap = entitlement.snapshot(sub)
    assert snap.price_id == sub["items"]["data"][0]["price"]["id"]
    assert (snap.schedule_id, snap.scheduled_price_id, snap.scheduled_change_at) == (
        "sub_sched_1", "price_monthly", FUTURE,
    )  # fmt: skip
    assert snap.trial_end is None  # only while trialing


@pytest.mark.parametrize("status", ["released", "canceled", "completed"])
def test_a_schedule_that_stopped_changes_nothing(status):
    sub = current_shape("active", period_end=FUTURE)
    sub["schedule"] = schedule(sub, status=status)
    snap = entitlement.snapshot(sub)
    assert (snap.schedule_id, snap.scheduled_price_id, snap.scheduled_change_at) == ("", "", None)


def test_a_schedule_whose_next_phase_keeps_the_price_shows_no_change():
    sub = current_shape("active", period_end=FUTURE)
    sub["schedule"] = schedule(sub, next_price=sub["items"]["data"][0]["price"]["id"])
    change = entitlement.scheduled_change(sub)
    assert change is not None and (change.price_id, change.effective_at) == ("", None)


def test_a_schedule_not_expanded_gives_its_id_only():
    sub = current_shape("active", period_end=FUTURE)
    sub["schedule"] = "sub_sched_2"
    assert entitlement.scheduled_change(sub) == entitlement.ScheduledChange("sub_sched_2", "", None)


def test_trial_end_is_kept_only_while_trialing():
    sub = current_shape("trialing", period_end=FUTURE)
    sub["trial_end"] = int(FUTURE.timestamp())
    assert entitlement.snapshot(sub).trial_end == FUTURE
    sub["status"] = "active"
    assert entitlement.snapshot(sub).trial_end is None


@pytest.mark.parametrize(
    ("status", "trial_start", "had"),
    [
        ("active", None, True),
        ("past_due", None, True),
        ("trialing", 1234567890, True),
        ("incomplete", None, False),
        ("incomplete_expired", None, False),
        ("canceled", None, False),  # maybe a purchase given up: billing.sync reads its invoices
        ("canceled", 1234567890, True),  # a trial, even one cancelled
    ],
)
def test_had_subscription(status, trial_start, had):
    sub = current_shape(status, period_end=FUTURE)
    sub["trial_start"] = trial_start
    assert entitlement.had_subscription(sub) is had
