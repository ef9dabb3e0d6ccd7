"""The dev LinkedIn stand-in behaves like a strict OpenID Connect provider."""

from __future__ import annotations

import os
import stat
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from django.conf import settings

from devtools.offline import DEV_OIDC_CLIENT_ID as CLIENT_ID
from devtools.offline import DEV_OIDC_CLIENT_SECRET as CLIENT_SECRET
from devtools.oidc.keys import key_path
from devtools.tests.support import Browser, query_of

pytestmark = pytest.mark.django_db(transaction=True)


def authorize_url(issuer: str, base: str, **overrides: str) -> str:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": f"{base}/auth/complete/linkedin-openidconnect/",
        "response_type": "code",
        "scope": "openid profile email",
        "state": "s1",
        **overrides,
    }
    return f"{issuer}/authorize?{urlencode(params)}"


def get_code(browser: Browser, issuer: str, **identity: Any) -> tuple[str, str]:
    redirect_uri = f"{browser.base}/auth/complete/linkedin-openidconnect/"
    back = browser.sign_in_at_provider(authorize_url(issuer, browser.base), **identity)
    assert back.status_code == 302
    query = query_of(back.headers["Location"])
    assert query["state"] == ["s1"]
    return query["code"][0], redirect_uri


def exchange(issuer: str, code: str, callback: str, **overrides: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return requests.post(f"{issuer}/token", data=data, timeout=10)


def test_discovery_and_jwks(oidc: str) -> None:
    config = requests.get(f"{oidc}/.well-known/openid-configuration", timeout=10).json()
    assert config["issuer"] == oidc
    assert config["token_endpoint"] == f"{oidc}/token"
    keys = requests.get(config["jwks_uri"], timeout=10).json()["keys"]
    assert [k["kty"] for k in keys] == ["RSA"]
    assert "d" not in keys[0]  # public part only


def test_key_file_is_private(oidc: str) -> None:
    requests.get(f"{oidc}/jwks", timeout=10)
    mode = stat.S_IMODE(os.stat(key_path()).st_mode)
    assert mode == 0o600


def test_code_exchange_gives_a_valid_id_token_and_userinfo(browser: Browser, oidc: str) -> None:
    code, redirect_uri = get_code(browser, oidc, name="Sam Sample", email="sam@example.com")
    response = exchange(oidc, code, redirect_uri)
    assert response.status_code == 200, response.text
    body = response.json()
    jwk = requests.get(f"{oidc}/jwks", timeout=10).json()["keys"][0]
    claims = jwt.decode(
        body["id_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=CLIENT_ID, issuer=oidc
    )
    assert claims["email"] == "sam@example.com"
    assert claims["exp"] > claims["iat"]
    info = requests.get(
        f"{oidc}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["name"] == "Sam Sample"


def test_sub_is_stable_per_email_unless_given(browser: Browser, oidc: str) -> None:
    subs = []
    for sub in ("", "", "chosen-sub"):
        code, redirect_uri = get_code(browser, oidc, email="same@example.com", sub=sub)
        token = exchange(oidc, code, redirect_uri).json()["id_token"]
        subs.append(jwt.decode(token, options={"verify_signature": False})["sub"])
    assert subs[0] == subs[1] != subs[2] == "chosen-sub"


def test_code_is_single_use(browser: Browser, oidc: str) -> None:
    code, redirect_uri = get_code(browser, oidc)
    assert exchange(oidc, code, redirect_uri).status_code == 200
    second = exchange(oidc, code, redirect_uri)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides,error,status",
    [
        ({"client_secret": "wrong"}, "invalid_client", 401),
        ({"client_id": "someone-else"}, "invalid_client", 401),
        (
            {"redirect_uri": "http://evil.example/auth/complete/linkedin-openidconnect/"},
            "invalid_grant",
            400,
        ),
        ({"grant_type": "password"}, "unsupported_grant_type", 400),
    ],
)
def test_token_endpoint_refuses(
    browser: Browser, oidc: str, overrides: dict[str, str], error: str, status: int
) -> None:
    code, redirect_uri = get_code(browser, oidc)
    response = exchange(oidc, code, redirect_uri, **overrides)
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_expired_code_is_refused(browser: Browser, oidc: str) -> None:
    from django.core.cache import cache

    code, redirect_uri = get_code(browser, oidc)
    cache.delete(f"dev-oidc:code:{code}")  # what the 60-second expiry does
    assert exchange(oidc, code, redirect_uri).json()["error"] == "invalid_grant"


def test_userinfo_needs_a_known_bearer(oidc: str) -> None:
    assert requests.get(f"{oidc}/userinfo", timeout=10).status_code == 401
    bad = requests.get(f"{oidc}/userinfo", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "unknown"},
        {"redirect_uri": "https://evil.example/steal"},
        {"response_type": "token"},
        {"scope": "profile"},
    ],
)
def test_authorize_refuses_bad_requests_without_redirecting(
    browser: Browser, oidc: str, overrides: dict[str, str]
) -> None:
    response = browser.get(authorize_url(oidc, browser.base, **overrides))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_authorize_page_prefills_a_demo_identity(browser: Browser, oidc: str) -> None:
    page = browser.get(authorize_url(oidc, browser.base))
    assert "Sign in as" in page.text
    assert 'value="dana.demo@example.com"' in page.text
    assert 'name="cancel"' in page.text


def test_stand_in_uses_settings_issuer(oidc: str) -> None:
    assert oidc == settings.SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT
