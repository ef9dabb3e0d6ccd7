"""LinkedIn sign-in end to end: social-auth's real backend against the dev stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from social_django.models import UserSocialAuth

from accounts.middleware import ERROR_CODES
from accounts.models import User
from devtools.tests.support import Browser, query_of

pytestmark = pytest.mark.django_db(transaction=True)


def login_error(response: Any) -> str:
    """The code the login page gets: one of a fixed set, never a sentence (issue 12, item 9)."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith("/login?"), location
    (code,) = query_of(location)["error"]
    assert code in ERROR_CODES, code
    return code


def test_login_start_is_post_only(browser: Browser) -> None:
    assert browser.get("/auth/login/linkedin-openidconnect/").status_code == 405


def test_login_start_requires_csrf(browser: Browser) -> None:
    assert browser.post("/auth/login/linkedin-openidconnect/").status_code == 403


def test_first_sign_in_creates_the_user_and_second_finds_it_by_sub(browser: Browser) -> None:
    done = browser.sign_in(name="Dana Demo", email="dana@example.com")
    assert done.status_code == 302
    assert done.headers["Location"] == "/account"
    user = User.objects.get()
    assert (user.email, user.name) == ("dana@example.com", "Dana Demo")
    assert user.username.startswith("li-")
    social = UserSocialAuth.objects.get(user=user)
    assert social.provider == "linkedin-openidconnect"

    account = browser.get("/api/account/")
    assert account.status_code == 200
    assert account.json()["email"] == "dana@example.com"
    assert account.json()["tier"] == "free"

    # The signed-in browser can get API tokens (sign-in rotated the CSRF token).
    tokens = browser.post(
        "/api/auth/token/", headers={"X-CSRFToken": browser.http.cookies["csrftoken"]}
    )
    assert tokens.status_code == 201, tokens.text
    assert (
        browser.get(
            "/api/account/", headers={"Authorization": "Bearer " + tokens.json()["access"]}
        ).status_code
        == 200
    )

    # Same LinkedIn member, new name and address: same account, profile refreshed.
    again = Browser(browser.base)
    done = again.sign_in(name="Dana Renamed", email="dana.new@example.com", sub=social.uid)
    assert done.headers["Location"] == "/account"
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert (user.email, user.name) == ("dana.new@example.com", "Dana Renamed")


def test_session_cookie_is_httponly_and_lax(browser: Browser) -> None:
    done = browser.sign_in()
    cookie = next(c for c in browser.http.cookies if c.name == "sessionid")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert "samesite=lax" in done.headers["Set-Cookie"].lower()


def test_same_email_with_another_sub_is_another_user(browser: Browser) -> None:
    browser.sign_in(email="shared@example.com", sub="member-one")
    other = Browser(browser.base)
    other.sign_in(email="shared@example.com", sub="member-two")
    assert User.objects.filter(email="shared@example.com").count() == 2
    assert browser.get("/api/account/").json()["id"] != other.get("/api/account/").json()["id"]


def test_same_site_next_is_followed(browser: Browser) -> None:
    done = browser.sign_in(next_url="/filers/0001067983")
    assert done.headers["Location"] == "/filers/0001067983"


@pytest.mark.parametrize(
    "next_url",
    ["https://elsewhere.example/steal", "//elsewhere.example/steal", "https:elsewhere.example"],
)
def test_foreign_next_is_not_followed(browser: Browser, next_url: str) -> None:
    done = browser.sign_in(next_url=next_url)
    assert done.status_code == 302
    assert done.headers["Location"] == "/account"
    assert browser.get("/api/account/").status_code == 200


def test_cancel_at_provider_goes_back_to_login_with_a_code(browser: Browser) -> None:
    start = browser.start_login()
    back = browser.sign_in_at_provider(start.headers["Location"], cancel=True)
    assert "error=user_cancelled_login" in back.headers["Location"]
    assert login_error(browser.get(back.headers["Location"])) == "cancelled"
    assert User.objects.count() == 0


def test_bad_state_is_refused(browser: Browser) -> None:
    start = browser.start_login()
    back = browser.sign_in_at_provider(start.headers["Location"])
    location = back.headers["Location"]
    state = query_of(location)["state"][0]
    forged = location.replace(f"state={state}", "state=forged-state-value")
    assert login_error(browser.get(forged)) == "session"
    assert User.objects.count() == 0


def test_callback_from_another_browser_is_refused(browser: Browser) -> None:
    """Login CSRF: a victim's browser must not complete the attacker's sign-in."""
    start = browser.start_login()
    back = browser.sign_in_at_provider(start.headers["Location"])
    victim = Browser(browser.base)
    assert login_error(victim.get(back.headers["Location"])) == "session"
    assert User.objects.count() == 0


def test_code_is_single_use(browser: Browser) -> None:
    start = browser.start_login()
    back = browser.sign_in_at_provider(start.headers["Location"])
    assert browser.get(back.headers["Location"]).headers["Location"] == "/account"
    # Replaying the same callback (code + state) does not sign anyone in again.
    replay = Browser(browser.base)
    login_error(replay.get(back.headers["Location"]))


@pytest.mark.parametrize(
    "fault", ["foreign_key", "alg_none", "wrong_aud", "wrong_iss", "expired", "stale_iat"]
)
def test_bad_id_tokens_are_rejected(browser: Browser, fault: str) -> None:
    with override_settings(DEV_OIDC_MISBEHAVE=fault):
        done = browser.sign_in()
    assert login_error(done) == "response"
    assert User.objects.count() == 0
    assert browser.get("/api/account/").status_code == 401


def test_provider_unreachable_is_a_login_error_not_a_500(browser: Browser) -> None:
    with override_settings(SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT="http://127.0.0.1:9/x"):
        start = browser.start_login()
    assert login_error(start) == "provider"


def test_signed_in_user_cannot_silently_link_another_linkedin_identity(browser: Browser) -> None:
    browser.sign_in(email="a@example.com", sub="member-a")
    assert login_error(browser.sign_in(email="b@example.com", sub="member-b")) in (
        "identity_in_use",
        "user_mismatch",
    )
    assert User.objects.count() == 1
