import pytest

from quotas.services import BUCKET_SECONDS, WINDOW_SECONDS, quota_consume, quota_peek
from quotas.tests.support import own_redis

T0 = 1_800_000_000


@pytest.fixture
def redis_url(settings):
    with own_redis() as url:
        settings.REDIS_URL = url
        yield url


@pytest.mark.integration
def test_redis_counter_limits_and_rolls(redis_url):
    states = [quota_consume(key="r", limit=2, now=T0 + i) for i in range(3)]
    assert [s.allowed for s in states] == [True, True, False]
    assert states[-1].used == 2
    assert states[-1].resets_at.timestamp() == T0 + WINDOW_SECONDS
    assert quota_peek(key="r", limit=2, now=T0 + 5).used == 2
    later = quota_consume(key="r", limit=2, now=T0 + WINDOW_SECONDS + BUCKET_SECONDS)
    assert later.allowed and later.used == 1


@pytest.mark.integration
def test_redis_keys_expire(redis_url):
    import redis

    quota_consume(key="ttl", limit=5)
    ttl = redis.Redis.from_url(redis_url).ttl("opensecdata:quota:ttl")
    assert 0 < ttl <= WINDOW_SECONDS


@pytest.mark.integration
@pytest.mark.django_db
def test_api_uses_the_redis_counter(redis_url, small_quotas, client_for):
    guest = client_for()
    statuses = [guest.get("/api/filers/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert quota_peek(key="ip:127.0.0.1", limit=3).used == 3


@pytest.mark.django_db
def test_unreachable_redis_lets_requests_through(settings, client_for):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert client_for().get("/api/filers/").status_code == 200
