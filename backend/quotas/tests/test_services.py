import pytest

from quotas.models import QuotaBucket
from quotas.services import BUCKET_SECONDS, WINDOW_SECONDS, quota_consume, quota_peek

T0 = 1_800_000_000  # a slice boundary (divisible by 600)


@pytest.mark.django_db
def test_limit_then_refusal_and_refusals_are_not_counted():
    states = [quota_consume(key="k", limit=3, now=T0 + i) for i in range(5)]
    assert [s.allowed for s in states] == [True, True, True, False, False]
    assert [s.used for s in states] == [1, 2, 3, 3, 3]
    assert [s.remaining for s in states] == [2, 1, 0, 0, 0]
    assert QuotaBucket.objects.get(key="k").count == 3


@pytest.mark.django_db
def test_the_window_rolls_slice_by_slice():
    quota_consume(key="k", limit=2, now=T0)
    quota_consume(key="k", limit=2, now=T0 + 3 * BUCKET_SECONDS)
    refused = quota_consume(key="k", limit=2, now=T0 + 5 * BUCKET_SECONDS)
    assert not refused.allowed
    # Room comes back when the first slice leaves the window: 24 h after it started.
    assert refused.resets_at.timestamp() == T0 + WINDOW_SECONDS
    assert refused.retry_after == WINDOW_SECONDS - 5 * BUCKET_SECONDS
    assert not quota_consume(key="k", limit=2, now=T0 + WINDOW_SECONDS - 1).allowed
    again = quota_consume(key="k", limit=2, now=T0 + WINDOW_SECONDS)
    assert again.allowed and again.used == 2


@pytest.mark.django_db
def test_peek_counts_nothing_and_keys_are_separate():
    quota_consume(key="a", limit=5, now=T0)
    assert quota_peek(key="a", limit=5, now=T0).used == 1
    assert quota_peek(key="a", limit=5, now=T0).used == 1
    assert quota_peek(key="b", limit=5, now=T0).used == 0


@pytest.mark.django_db
def test_unlimited_is_counted_but_never_refused():
    states = [quota_consume(key="p", limit=None, now=T0) for _ in range(10)]
    assert all(s.allowed for s in states)
    assert states[-1].used == 10 and states[-1].remaining is None


@pytest.mark.django_db
def test_old_slices_are_deleted():
    quota_consume(key="old", limit=5, now=T0)
    quota_consume(key="new", limit=5, now=T0 + WINDOW_SECONDS + BUCKET_SECONDS)
    assert not QuotaBucket.objects.filter(key="old").exists()
