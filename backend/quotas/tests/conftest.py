import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _database_counter_unless_asked(settings):
    # The database counter (rolled back per test) unless a test brings its own Redis.
    settings.REDIS_URL = ""


@pytest.fixture
def small_quotas(settings):
    settings.API_QUOTA_GUEST = 3
    settings.API_QUOTA_FREE = 5
    return settings


@pytest.fixture
def client_for():
    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make
