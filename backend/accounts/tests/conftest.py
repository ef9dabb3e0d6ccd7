"""Fixtures for sign-in tests: the real social-auth backend talks over HTTP to the real
dev LinkedIn stand-in, both served by pytest-django's live server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import call_command
from django.test import override_settings

BACKEND = "linkedin-openidconnect"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """The stand-in keeps codes and tokens in the database-backed cache."""
    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)


@pytest.fixture
def oidc(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Point the LinkedIn backend at the stand-in on the live server; yields its issuer."""
    issuer = f"{live_server.url}/_dev/oidc"
    key_file = tmp_path_factory.getbasetemp() / "dev-oidc-signing-key.pem"
    with override_settings(
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT=issuer,
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY="dev-oidc-client-id-not-a-linkedin-key",
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET="dev-oidc-client-secret-not-a-linkedin-secret",
        DEV_OIDC_KEY_FILE=str(key_file),
        DEV_OIDC_MISBEHAVE="",
    ):
        yield issuer


def _hidden_inputs(html: str) -> dict[str, str]:
    fields = {}
    for match in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        fields[match.group(1)] = unescape(match.group(2))
    return fields


class Browser:
    """A cookie-keeping HTTP client that walks the sign-in like a browser, one hop at a time."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(path), allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url(path), allow_redirects=False, timeout=30, **kwargs)

    def csrf(self) -> str:
        self.get("/api/auth/csrf/")
        return self.http.cookies["csrftoken"]

    def start_login(self, next_url: str | None = None) -> requests.Response:
        data = {"csrfmiddlewaretoken": self.csrf()}
        if next_url is not None:
            data["next"] = next_url
        return self.post(f"/auth/login/{BACKEND}/", data=data)

    def sign_in_at_provider(
        self,
        authorize_url: str,
        *,
        name: str = "Dana Demo",
        email: str = "dana.demo@example.com",
        sub: str = "",
        cancel: bool = False,
    ) -> requests.Response:
        page = self.get(authorize_url)
        assert page.status_code == 200, page.text
        form = _hidden_inputs(page.text)
        form.update({"name": name, "email": email, "sub": sub})
        form["cancel" if cancel else "signin"] = "1"
        return self.post(authorize_url, data=form, headers={"Referer": authorize_url})

    def sign_in(self, *, next_url: str | None = None, **identity: Any) -> requests.Response:
        """The whole round trip; returns the app's final answer to the provider's redirect."""
        start = self.start_login(next_url)
        assert start.status_code == 302, start.text
        back = self.sign_in_at_provider(start.headers["Location"], **identity)
        assert back.status_code == 302, back.text
        return self.get(back.headers["Location"])


@pytest.fixture
def browser(oidc: str, live_server: Any) -> Browser:
    return Browser(live_server.url)


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)
