"""`make stack-smoke`: what production relies on, checked through NGINX of a running stack."""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import TYPE_CHECKING

from fakestripe.signing import sign

if TYPE_CHECKING:
    from devstack.stack import Stack


def _headers(message: Message) -> dict[str, str]:
    """Lower-case names; a header sent twice becomes "a, b" (so duplicates show)."""
    joined: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def http(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request without redirects or cookies: (status, headers, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, _headers(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, _headers(error.headers), error.read()


def smoke(stack: Stack) -> tuple[int, list[str]]:
    """Checks through NGINX of what production relies on: (passed, failures)."""
    failures: list[str] = []
    passed = 0

    def check(ok: bool, what: str) -> None:
        nonlocal passed
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if ok:
            passed += 1
        else:
            failures.append(what)

    url = stack.url
    status, headers, body = http("GET", f"{url}/")
    check(status == 200 and b"q-app" in body, "GET / is the SPA")
    check(headers.get("cache-control") == "no-cache", "index.html: Cache-Control no-cache")
    csp = headers.get("content-security-policy", "")
    check("https://js.stripe.com" in csp and "frame-ancestors 'none'" in csp, "CSP header")
    check("max-age=31536000" in headers.get("strict-transport-security", ""), "HSTS header")
    asset = re.search(rb'src="?(/assets/[^" >]+\.js)', body)
    if asset:
        status, headers, _ = http("GET", url + asset.group(1).decode())
        check(status == 200 and "immutable" in headers.get("cache-control", ""), "assets immutable")
        status, headers, _ = http(
            "GET", url + asset.group(1).decode(), headers={"Accept-Encoding": "gzip"}
        )
        check(headers.get("content-encoding") == "gzip", "assets gzip")
    else:
        check(False, "index.html names an /assets/ script")
    status, _, body = http("GET", f"{url}/filers/0001067983")
    check(status == 200 and b"q-app" in body, "history fallback: /filers/<cik> is index.html")
    status, _, _ = http("GET", f"{url}/assets/missing-file.js")
    check(status == 404, "missing asset: 404, not index.html")

    status, headers, body = http("GET", f"{url}/api/stripe/config/")
    config = json.loads(body or b"{}") if status == 200 else {}
    check(
        status == 200 and config.get("publishable_key", "").startswith("pk_"), "/api/stripe/config/"
    )
    check(headers.get("x-frame-options") == "DENY", "one X-Frame-Options on API answers")
    status, headers, body = http("GET", f"{url}/api/filers/")
    check(
        status == 200 and "x-ratelimit-limit" in headers, "/api/filers/ (guest, with quota headers)"
    )
    status, _, body = http("GET", f"{url}/static/admin/css/base.css")
    check(status == 200 and len(body) > 100, "/static/ (collected) served by NGINX")
    status, _, _ = http("GET", f"{url}/admin/login/")
    check(status == 200, "/admin/ proxied")
    status, _, body = http("GET", f"{url}/_dev/oidc/.well-known/openid-configuration")
    check(status == 200 and url.encode() in body, "dev LinkedIn discovery through NGINX")
    status, _, _ = http("GET", f"{url}/js.stripe.com/v3/")
    check(status == 200, "Stripe.js stand-in through NGINX")

    # A webhook whose bytes any re-encoding would change: the signature covers them exactly.
    text = (
        '{"id": "EVENT_ID",  "object":"event", "type":"opensec.stack.check",\n'
        '  "created": CREATED, "data": {"object": {"note": "caf\\u00e9 \u00e9\u00e8 \u2713  '
        'tabs\\tand\\nnewlines"}}}\r\n'
    )
    text = text.replace("EVENT_ID", f"evt_stack_{secrets.token_hex(6)}")
    raw = text.replace("CREATED", str(int(time.time()))).encode()
    hook = f"{url}/api/stripe-webhooks/"
    signed = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(raw, stack.webhook_secret),
    }
    status, _, answer = http("POST", hook, raw, signed)
    check(status == 200, f"signed webhook through NGINX: 200 ({status} {answer[:120]!r})")
    status, _, _ = http("POST", hook, raw, signed)
    check(status == 200, "same event again: 200 (not processed twice)")
    forged = {**signed, "Stripe-Signature": sign(raw, "whsec_not_the_secret_at_all_0000")}
    status, _, _ = http("POST", hook, raw, forged)
    check(status == 400, "forged signature: 400")
    tampered = raw.replace(b"  ", b" ", 1)
    status, _, _ = http("POST", hook, tampered, signed)
    check(status == 400, "one byte changed: 400 (so the 200 above got the bytes as sent)")
    return passed, failures
