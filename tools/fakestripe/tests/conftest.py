"""The Stripe stand-in shared by its own tests (API and browser): one process per session.

``client`` here is a stripe-python client of the stand-in (not pytest-django's test client,
which no test in this folder uses).
"""

import pytest

from fakestripe import testing
from fakestripe.launcher import FakeStripe


@pytest.fixture(scope="session")
def fake():
    with FakeStripe(webhook_delay=0.02) as fs:
        yield fs


@pytest.fixture(scope="session")
def client(fake):
    return testing.stripe_client(fake)


@pytest.fixture(scope="session")
def price(client):
    return testing.premium_price(client)
