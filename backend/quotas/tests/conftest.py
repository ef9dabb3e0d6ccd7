from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from billing.models import BillingAccount


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
def client_for():
    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make
