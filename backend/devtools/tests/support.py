"""Test support for the dev LinkedIn stand-in (devtools/oidc): a browser-like client that
walks the sign-in hop by hop. Fixtures that use it (``oidc``, ``browser``) are in
backend/conftest.py; accounts' and devtools' tests share them."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

BACKEND = "linkedin-openidconnect"


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
        token = self.http.cookies.get("csrftoken")
        assert token, "GET /api/auth/csrf/ set no csrftoken cookie"
        return token

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


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)
