from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from billing.models import BillingAccount
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
def free_user(db):
    return User.objects.create_user(username="free", email="free@example.com")


@pytest.fixture
def premium_user(db):
    user = User.objects.create_user(username="premium", email="premium@example.com")
    BillingAccount.objects.create(
        user=user,
        subscription_id="sub_test",
        stripe_status="active",
        premium_until=timezone.now() + timedelta(days=30),
    )
    return user


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
