"""/admin/ sign-in is throttled: django-axes locks an address out with a 429
after a few wrong passwords (issue 12, item 4). Over HTTP, through Django's whole stack."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple 42"  # a test user's


@pytest.fixture
def staff(db: Any) -> User:
    return User.objects.create_user(
        username="admin-person", email="admin@example.com", password=PASSWORD, is_staff=True,
        is_superuser=True,
    )  # fmt: skip


def attempt(address: str, username: str, password: str) -> Any:
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})


def test_wrong_passwords_meet_a_429_and_the_lock_holds_for_the_right_one(staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    answers = [attempt("203.0.113.50", staff.username, f"guess-{n}").status_code for n in range(5)]
    assert answers == [200] * 4 + [429]  # the login page with its error, then the lockout
    locked = attempt("203.0.113.50", staff.username, PASSWORD)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert b"Too many failed sign-in attempts" in locked.content
    assert "sessionid" not in locked.cookies
    # The same address with another username is locked too (per address)...
    assert attempt("203.0.113.50", "someone-else", "x").status_code == 429
    # ...but not the username everywhere: a guesser elsewhere cannot lock the real admin out.
    assert attempt("198.51.100.60", staff.username, PASSWORD).status_code == 302


def test_a_success_before_the_limit_resets_the_count(staff):
    for n in range(4):
        assert attempt("192.0.2.70", staff.username, f"typo-{n}").status_code == 200
    assert attempt("192.0.2.70", staff.username, PASSWORD).status_code == 302
    for n in range(4):
        assert attempt("192.0.2.70", staff.username, f"typo-{n}").status_code == 200


def test_linkedin_sign_in_is_not_counted_by_the_admin_lockout(staff, settings):
    """Only /admin/ is watched (AXES_ONLY_ADMIN_SITE): the API and sign-in are unaffected."""
    for n in range(6):
        attempt("192.0.2.80", staff.username, f"guess-{n}")
    api = Client(REMOTE_ADDR="192.0.2.80")
    assert api.get("/api/stripe/config/").status_code != 429
    assert api.get("/api/auth/csrf/").status_code == 204
