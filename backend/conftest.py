"""Project-wide fixtures: the offline Stripe stand-in, the dev LinkedIn stand-in, the dev mail
server, users and API clients.

Tests talk to the stand-ins over real HTTP: the app's real stripe-python calls to the Stripe
stand-in (tools/fakestripe), the real social-auth backend to the dev LinkedIn provider
(devtools/oidc) on pytest-django's live server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from billing import stripe_client
from billing.tests.support import redis_started, shared_redis_url
from devstack import migrated
from devstack.mailserver import MailServer
from devtools.offline import DEV_OIDC_CLIENT_ID, DEV_OIDC_CLIENT_SECRET
from devtools.tests.support import Browser
from fakestripe.launcher import FakeStripe


def stripe_settings(fake: FakeStripe) -> dict[str, Any]:
    return {
        "STRIPE_API_HOST_OVERRIDE": fake.url,
        "STRIPE_API_HOST": fake.url,
        "STRIPE_SECRET_KEY": fake.secret_key,
        "STRIPE_TEST_SECRET_KEY": fake.secret_key,
        "STRIPE_PUBLISHABLE_KEY": fake.publishable_key,
        # Fail fast in tests that stop the stand-in on purpose.
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_TIMEOUT_SECONDS": 5.0,
    }


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    """One stand-in for the session; every test points at it unless it brings its own."""
    with FakeStripe() as fake:
        overrides = override_settings(**stripe_settings(fake))
        overrides.enable()
        previous_base = stripe.api_base
        assert fake.url is not None
        stripe.api_base = fake.url  # dj-stripe's own calls use the module-level client
        try:
            yield fake
        finally:
            stripe.api_base = previous_base
            overrides.disable()


@pytest.fixture(scope="session")
def stripe_price(fake_stripe: FakeStripe, django_db_setup: Any, django_db_blocker: Any) -> str:
    """The Premium price, created once in the stand-in by the real management command."""
    from io import StringIO

    out = StringIO()
    with django_db_blocker.unblock():
        call_command("create_stripe_data", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture
def stripe_ready(stripe_price: str, fake_stripe: FakeStripe, db: Any) -> FakeStripe:
    """The stand-in with the price in place and the price cache warm for this test."""
    from billing import services

    services.price_get()
    stripe_client.CALLS.clear()
    fake_stripe.clear_requests_log()
    return fake_stripe


@pytest.fixture
def make_user(db: Any) -> Any:
    from accounts.models import User

    counter = {"n": 0}

    def make(**fields: Any) -> User:
        counter["n"] += 1
        n = counter["n"]
        fields.setdefault("username", f"user{n}")
        fields.setdefault("email", f"user{n}@example.com")
        fields.setdefault("name", f"Test User {n}")
        return User.objects.create_user(**fields)

    return make


@pytest.fixture
def user(make_user: Any) -> Any:
    return make_user()


@pytest.fixture
def api(user: Any) -> APIClient:
    """A signed-in browser session (the endpoints use session auth)."""
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def free_user(db: Any) -> Any:
    from accounts.models import User

    return User.objects.create_user(username="free", email="free@example.com")


@pytest.fixture
def premium_user(db: Any) -> Any:
    """A user whose stored entitlement says premium for 30 more days (no Stripe involved)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from billing.models import BillingAccount

    user = User.objects.create_user(username="premium", email="premium@example.com")
    BillingAccount.objects.create(
        user=user,
        subscription_id="sub_test",
        stripe_status="active",
        premium_until=timezone.now() + timedelta(days=30),
    )
    return user


@pytest.fixture
def guest() -> APIClient:
    return APIClient()


def _test_database() -> migrated.Target:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        name = db.get("TEST", {}).get("NAME")
        return migrated.Target(sqlite=Path(name)) if name else migrated.Target()
    return migrated.test_target(
        sqlite=None,
        database_url=os.environ.get("DATABASE_URL", ""),
        name=db.get("TEST", {}).get("NAME") or f"test_{db['NAME']}",
    )


@pytest.fixture(scope="session")
def migrated_test_database(request: pytest.FixtureRequest) -> tuple[migrated.Target, bool]:
    """The test database, and whether it was filled from devstack's migrated template
    (tools/devstack/devstack/migrated.py: `migrate` on an empty database is about 80 s of CPU;
    the template is the first one built, then copied). With ``--reuse-db`` (make test-fast)
    pytest-django's kept database is used as it is."""
    target = _test_database()
    if request.config.getvalue("nomigrations"):
        return migrated.Target(), False  # tables from the models: no template either way
    if request.config.getvalue("reuse_db") and not request.config.getvalue("create_db"):
        return target, False
    return target, migrated.test_database_restore(target)


@pytest.fixture(scope="session")
def django_db_keepdb(
    request: pytest.FixtureRequest, migrated_test_database: tuple[migrated.Target, bool]
) -> bool:
    """pytest-django's, and True for a database restored from the template (it is made:
    Django then only runs `migrate`, which finds nothing or little to do)."""
    return bool(request.config.getvalue("reuse_db")) or migrated_test_database[1]


@pytest.fixture(scope="session")
def django_db_createdb(
    request: pytest.FixtureRequest, migrated_test_database: tuple[migrated.Target, bool]
) -> bool:
    return bool(request.config.getvalue("create_db")) and not migrated_test_database[1]


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_db_setup: Any,
    django_db_blocker: Any,
    migrated_test_database: tuple[migrated.Target, bool],
) -> Iterator[None]:
    """pytest-django's, plus: a database it migrated from empty is kept as the template; the
    database-backed cache's table (the dev LinkedIn stand-in keeps codes and tokens there); at
    the end, end the sessions that test threads and helper processes left open on
    PostgreSQL's test database, so that it can be dropped, and drop a restored one (kept by
    pytest-django, as ``keepdb`` databases are)."""
    target, restored = migrated_test_database
    reused = request.config.getvalue("reuse_db") and not request.config.getvalue("create_db")
    if not restored and not reused:
        migrated.database_save(target)
    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)
    yield
    from django.db import connection, connections

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    if restored and not request.config.getvalue("reuse_db"):  # --reuse-db keeps it
        connections.close_all()
        migrated.test_database_drop(target)


@pytest.fixture
def oidc(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Point the LinkedIn backend at the dev stand-in on the live server; yields its issuer."""
    issuer = f"{live_server.url}/_dev/oidc"
    key_file = tmp_path_factory.getbasetemp() / "dev-oidc-signing-key.pem"
    with override_settings(
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT=issuer,
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY=DEV_OIDC_CLIENT_ID,
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET=DEV_OIDC_CLIENT_SECRET,
        DEV_OIDC_KEY_FILE=str(key_file),
        DEV_OIDC_MISBEHAVE="",
    ):
        yield issuer


@pytest.fixture
def browser(oidc: str, live_server: Any) -> Browser:
    """A browser-like client of the live server, signing in through the dev LinkedIn."""
    return Browser(live_server.url)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real Redis broker for the module: make test's, or a throw-away one of our own."""
    url = shared_redis_url()
    if url:
        yield url
        return
    server = redis_started()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    """A real SMTP server (aiosmtpd, tools/devstack/devstack/mailserver.py) on a free loopback
    port, keeping what it receives in a Maildir under ``tmp_path``; the app sends to it over
    SMTP (not pytest-django's in-memory outbox) and the dev mailbox page reads that Maildir.
    ``stop()`` / ``start()`` take it down and back on the same port."""
    server = MailServer(tmp_path / "mailbox").start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=server.port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_TIMEOUT=5,
            DEV_MAILBOX_DIR=str(server.maildir),
        ):
            yield server
    finally:
        server.stop()
