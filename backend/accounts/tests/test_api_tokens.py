"""JWT for API scripts: issued from the browser session, refused in every bad shape."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Issuing is throttled per user id (accounts/throttles.py); ids repeat across tests."""
    cache.clear()


@pytest.fixture
def member() -> User:
    return User.objects.create_user(username="li-member", email="m@example.com", name="Mia Member")


@pytest.fixture
def session(member: User) -> APIClient:
    """A signed-in browser: session cookie and CSRF checks on, like the SPA."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    client.get("/api/auth/csrf/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.fixture
def pair(session: APIClient) -> dict[str, str]:
    response = session.post("/api/auth/token/")
    assert response.status_code == 201, response.content
    return response.json()


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["detail"] and body["code"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def forge(claims: dict[str, Any], *, key: str | None = None, alg: str = "HS256") -> str:
    return jwt.encode(claims, key or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm=alg)


def test_csrf_endpoint_sets_the_cookie() -> None:
    response = APIClient().get("/api/auth/csrf/")
    assert response.status_code == 204
    assert "csrftoken" in response.cookies


def test_guest_gets_401_on_account() -> None:
    assert_401(APIClient().get("/api/account/"))


def test_account_through_the_session(session: APIClient, member: User) -> None:
    body = session.get("/api/account/").json()
    assert body["id"] == member.pk
    assert (body["email"], body["name"], body["tier"]) == ("m@example.com", "Mia Member", "free")
    assert set(body) >= {"id", "email", "name", "tier", "subscription", "usage"}
    assert body["subscription"]["premium"] is False
    assert set(body["usage"]) >= {"used", "limit", "resets_at"}


def test_issue_returns_a_pair_with_expiries(pair: dict[str, str]) -> None:
    assert set(pair) == {"access", "refresh", "access_expires", "refresh_expires"}
    assert pair["access_expires"] < pair["refresh_expires"]


def test_issue_requires_csrf(member: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post("/api/auth/token/").status_code == 403


def test_issue_requires_a_session() -> None:
    assert_401(APIClient().post("/api/auth/token/"))


def test_issue_refuses_a_bearer_token(pair: dict[str, str]) -> None:
    response = bearer(pair["access"]).post("/api/auth/token/")
    assert response.status_code == 403


def test_access_token_works_as_bearer(pair: dict[str, str], member: User) -> None:
    response = bearer(pair["access"]).get("/api/account/")
    assert response.status_code == 200
    assert response.json()["id"] == member.pk


def test_expired_access_token_is_401(member: User) -> None:
    token = AccessToken.for_user(member)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert_401(bearer(str(token)).get("/api/account/"))


def test_tampered_access_token_is_401(pair: dict[str, str]) -> None:
    header, payload, signature = pair["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["user_id"] = str(int(claims["user_id"]) + 1)
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_401(bearer(f"{header}.{forged_payload}.{signature}").get("/api/account/"))


def test_token_signed_with_another_key_is_401(pair: dict[str, str]) -> None:
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    assert_401(bearer(forge(claims, key="x" * 48)).get("/api/account/"))


@pytest.mark.parametrize("field,value", [("aud", "another-api"), ("iss", "someone-else")])
def test_wrong_audience_or_issuer_is_401(pair: dict[str, str], field: str, value: str) -> None:
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    claims[field] = value
    assert_401(bearer(forge(claims)).get("/api/account/"))


@pytest.mark.parametrize("missing", ["aud", "iss"])
def test_missing_audience_or_issuer_is_401(pair: dict[str, str], missing: str) -> None:
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    del claims[missing]
    assert_401(bearer(forge(claims)).get("/api/account/"))


def test_alg_none_is_401(pair: dict[str, str]) -> None:
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_401(bearer(f"{header}.{body}.").get("/api/account/"))


def test_other_hmac_algorithm_is_401(pair: dict[str, str]) -> None:
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    assert_401(bearer(forge(claims, alg="HS512")).get("/api/account/"))


def test_refresh_token_used_as_access_is_401(pair: dict[str, str]) -> None:
    assert_401(bearer(pair["refresh"]).get("/api/account/"))


def test_deactivated_user_is_401(pair: dict[str, str], member: User) -> None:
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert_401(bearer(pair["access"]).get("/api/account/"))
    assert_401(
        APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    )


def test_deleted_user_refresh_is_401_not_500(pair: dict[str, str], member: User) -> None:
    member.delete()
    assert_401(
        APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    )


def test_refresh_rotates_and_blacklists_the_old_one(pair: dict[str, str]) -> None:
    client = APIClient()
    response = client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200, response.content
    rotated = response.json()
    assert set(rotated) == {"access", "refresh"}
    assert rotated["refresh"] != pair["refresh"]
    assert bearer(rotated["access"]).get("/api/account/").status_code == 200
    # The old refresh token is spent.
    assert_401(client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"))
    # The new one works once.
    again = client.post("/api/auth/token/refresh/", {"refresh": rotated["refresh"]}, format="json")
    assert again.status_code == 200


def test_access_token_cannot_refresh(pair: dict[str, str]) -> None:
    assert_401(
        APIClient().post("/api/auth/token/refresh/", {"refresh": pair["access"]}, format="json")
    )


def test_expired_or_forged_refresh_is_401(member: User) -> None:
    expired = RefreshToken.for_user(member)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    client = APIClient()
    assert_401(client.post("/api/auth/token/refresh/", {"refresh": str(expired)}, format="json"))
    claims = {
        "token_type": "refresh",
        "user_id": str(member.pk),
        "jti": "x",
        "exp": int(time.time()) + 60,
    }
    assert_401(
        client.post(
            "/api/auth/token/refresh/", {"refresh": forge(claims, key="k" * 40)}, format="json"
        )
    )
    # Not shaped like a token at all: a validation error (the schema's pattern), not a 401.
    malformed = client.post("/api/auth/token/refresh/", {"refresh": "not-a-jwt"}, format="json")
    assert malformed.status_code == 400 and malformed.json()["code"] == "invalid"


def test_revoke_blacklists_the_refresh_token(pair: dict[str, str]) -> None:
    client = APIClient()
    response = client.post("/api/auth/token/revoke/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    assert_401(client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"))
    assert_401(client.post("/api/auth/token/revoke/", {"refresh": pair["refresh"]}, format="json"))


def test_token_endpoints_ignore_a_bad_authorization_header(pair: dict[str, str]) -> None:
    client = bearer("garbage")
    response = client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200


def test_refresh_needs_a_body() -> None:
    response = APIClient().post("/api/auth/token/refresh/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_tier_is_read_from_the_database_not_the_token(pair: dict[str, str], member: User) -> None:
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    claims["tier"] = "premium"
    response = bearer(forge(claims)).get("/api/account/")
    assert response.status_code == 200
    assert response.json()["tier"] == "free"


def test_logout_ends_the_session(session: APIClient) -> None:
    assert session.post("/api/auth/logout/").status_code == 204
    assert session.get("/api/account/").status_code == 401


def test_logout_requires_csrf(member: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post("/api/auth/logout/").status_code == 403
    assert client.get("/api/account/").status_code == 200
