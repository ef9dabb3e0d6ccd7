import pytest
from rest_framework.test import APIClient

from filings.services import demo_filing_paths, filing_load_file


@pytest.fixture(autouse=True)
def _database_quota_counter(settings):
    # Count quotas in the test database (rolled back per test), even when the run has
    # REDIS_URL set; the Redis counter has its own tests in quotas/tests.
    settings.REDIS_URL = ""


@pytest.fixture
def demo(db):
    """The three shipped filings, loaded."""
    return [filing_load_file(path=path).filing for path in demo_filing_paths()]


@pytest.fixture
def guest_client():
    return APIClient()


@pytest.fixture
def free_client(free_user):
    client = APIClient()
    client.force_login(free_user)
    return client


@pytest.fixture
def premium_client(premium_user):
    client = APIClient()
    client.force_login(premium_user)
    return client
