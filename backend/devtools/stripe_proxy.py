"""Same-origin dev proxy for the browser path (Stripe.js stand-in + its API calls).

The Stripe.js stand-in derives its API base from its own script URL. When the app serves it
same-origin (``<script src="/js.stripe.com/v3/">``), the browser sends ``/v1/...`` to the app,
and this view forwards those requests to ``settings.STRIPE_API_HOST`` (the stand-in), which
avoids the stand-in's CORS limits. Mount only when ``settings.DEVTOOLS_ALLOWED``::

    from devtools.stripe_proxy import stripe_proxy
    urlpatterns += [
        path("js.stripe.com/v3/", stripe_proxy, {"path": "js.stripe.com/v3/"}),
        path("v1/<path:path>", stripe_proxy),
    ]

Only what Stripe.js itself sends with a publishable key passes (:data:`BROWSER_ROUTES`:
creating payment methods, tokens and sources, confirming or reading an intent with its client
secret), and only with a ``pk_`` key: every ``key`` parameter, in the query or the body, and
any ``Authorization`` header must be a publishable key, otherwise the answer is 403 and nothing
reaches the stand-in. The server's secret key is never added. So the proxy cannot be used to
act with a secret key (``?key=sk_test_...`` on ``DELETE /v1/subscriptions/...``), nor to reach
an endpoint Stripe.js never calls (webhook endpoints, customers, subscriptions).

:func:`hosted_page_proxy` (``/_dev/_stripe/<path>``, devtools/urls.py) forwards the stand-in's
hosted pages — an invoice's page and PDF, a billing portal session — which the stand-in's
``hosted_invoice_url``, ``invoice_pdf`` and portal ``url`` point at when make run / make stack give
it the app's public URL (``<site>/_dev``): only ``GET``/``HEAD`` of exactly those three path
shapes (:data:`HOSTED_PATHS`), with no query, no cookie and no header of the browser's, and only
to a loopback ``STRIPE_API_HOST`` (the stand-in; never real Stripe). Anything else is a 404.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

TIMEOUT_SECONDS = 15
FORWARDED_HEADERS = ("Content-Type", "Accept", "Idempotency-Key", "Stripe-Version")
RETURNED_HEADERS = ("Request-Id", "Idempotent-Replayed", "Cache-Control")

#: (method, path) of what Stripe.js sends with a publishable key: the same routes the stand-in
#: accepts a ``pk_`` key on (tools/fakestripe/fakestripe/app.py, ``auth_mw``).
BROWSER_ROUTES = (
    ("GET", re.compile(r"^/js\.stripe\.com/v3/$")),
    ("POST", re.compile(r"^/v1/(payment_methods|tokens|sources)$")),
    ("POST", re.compile(r"^/v1/(payment_intents|setup_intents)/\w+/(confirm|_authenticate)$")),
    ("GET", re.compile(r"^/v1/(payment_intents|setup_intents)/\w+$")),
)


def upstream_path(request: HttpRequest, path: str) -> str | None:
    """``/js.stripe.com/v3/`` or ``/v1/...`` for this request, else None."""
    path = (path or "").lstrip("/")
    if path.startswith(("v1/", "js.stripe.com/")):
        candidate = "/" + path
    elif "/js.stripe.com/v3" in request.path:
        candidate = "/js.stripe.com/v3/"
    elif "/v1/" in request.path:
        candidate = request.path[request.path.rindex("/v1/") :]
    else:
        candidate = "/v1/" + path
    if candidate.rstrip("/") == "/js.stripe.com/v3":
        return "/js.stripe.com/v3/"
    if candidate.startswith("/v1/") and ".." not in candidate.split("/"):
        return candidate
    return None


def _key_values(request: HttpRequest) -> list[object] | None:
    """Every ``key`` parameter of the query and the body (JSON or form); None if the body is
    neither, so it cannot be checked."""
    values: list[object] = list(request.GET.getlist("key"))
    body = request.body if request.method not in ("GET", "HEAD") else b""
    if not body:
        return values
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return [*values, *([data["key"]] if "key" in data else [])]
    if content_type in ("application/x-www-form-urlencoded", ""):
        try:
            form = urllib.parse.parse_qs(
                body.decode(), keep_blank_values=True, strict_parsing=False
            )
        except UnicodeDecodeError:
            return None
        return [*values, *form.get("key", [])]
    return None


def browser_request_refusal(request: HttpRequest, target: str) -> str | None:
    """Why this request is not one Stripe.js makes with a publishable key; None if it is."""
    method = request.method or "GET"
    if not any(m == method and pattern.match(target) for m, pattern in BROWSER_ROUTES):
        return f"The dev proxy forwards only what Stripe.js sends; not {method} {target}."
    if target.startswith("/js.stripe.com/"):
        return None
    keys = _key_values(request)
    if keys is None:
        return "The dev proxy forwards only JSON or form bodies."
    auth = request.headers.get("Authorization", "")
    if auth:
        keys.append(auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else auth)
    if not keys:
        return "The dev proxy needs the publishable key (pk_...) Stripe.js sends."
    # Every key must be publishable: a secret key in the query, the body or the header is
    # refused, never forwarded (the stand-in would act with it).
    if not all(isinstance(k, str) and k.startswith("pk_") for k in keys):
        return "The dev proxy forwards only publishable keys (pk_...), never a secret key."
    return None


@csrf_exempt
def stripe_proxy(request: HttpRequest, path: str = "") -> HttpResponse:
    if not getattr(settings, "DEVTOOLS_ALLOWED", False):
        raise Http404("devtools are disabled")
    base = (getattr(settings, "STRIPE_API_HOST", "") or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        return HttpResponse(
            "STRIPE_API_HOST is not an http(s) URL", status=502, content_type="text/plain"
        )
    target = upstream_path(request, path)
    if target is None:
        raise Http404("not a Stripe stand-in path")
    refusal = browser_request_refusal(request, target)
    if refusal is not None:
        return JsonResponse(
            {"error": {"type": "invalid_request_error", "message": refusal}}, status=403
        )
    url = base + urllib.parse.quote(target, safe="/:@!$&'()*+,;=-._~")
    query = request.META.get("QUERY_STRING", "")
    if query:
        url += "?" + query

    headers = {}
    for name in FORWARDED_HEADERS:
        value = request.headers.get(name)
        if value:
            headers[name] = value
    auth = request.headers.get("Authorization", "")
    if auth:  # browser_request_refusal let only a publishable key through
        headers["Authorization"] = auth
    body = request.body if request.method not in ("GET", "HEAD") else None
    # ``base`` is settings.STRIPE_API_HOST (the stand-in's http URL), never the client's.
    upstream = urllib.request.Request(url, data=body, method=request.method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(upstream, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            status, content, answer_headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as e:
        status, content, answer_headers = e.code, e.read(), e.headers
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return HttpResponse(
            f"Stripe stand-in unreachable at {base}: {e}", status=502, content_type="text/plain"
        )
    response = HttpResponse(
        content, status=status, content_type=answer_headers.get("Content-Type", "application/json")
    )
    for name in RETURNED_HEADERS:
        if answer_headers.get(name):
            response[name] = answer_headers[name]
    return response


# --- the stand-in's hosted pages (invoice page, invoice PDF, billing portal) -------------------

#: what the stand-in serves under /_stripe/ (tools/fakestripe/fakestripe/pages.py): the token is
#: the page's secret ("test_" + 43 URL-safe characters), so nothing else can be named.
HOSTED_PATHS = (
    re.compile(r"^invoices/test_[A-Za-z0-9_-]{16,100}$"),
    re.compile(r"^invoices/test_[A-Za-z0-9_-]{16,100}/pdf$"),
    re.compile(r"^portal/test_[A-Za-z0-9_-]{16,100}$"),
)
HOSTED_RETURNED_HEADERS = (
    "Content-Disposition",
    "Content-Security-Policy",
    "Cache-Control",
    "Referrer-Policy",
    "X-Content-Type-Options",
    "X-Robots-Tag",
)
HOSTED_CONTENT_TYPES = ("text/html", "application/pdf")


def _loopback_base() -> str | None:
    """``settings.STRIPE_API_HOST`` if it is the stand-in (http on a loopback address)."""
    base = (getattr(settings, "STRIPE_API_HOST", "") or "").rstrip("/")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme != "http" or not parts.hostname:
        return None
    if parts.hostname == "localhost":
        return base
    try:
        return base if ipaddress.ip_address(parts.hostname).is_loopback else None
    except ValueError:
        return None


@require_safe  # GET and HEAD only (405 otherwise): the pages are read, never acted on
def hosted_page_proxy(request: HttpRequest, path: str) -> HttpResponse:
    """``/_dev/_stripe/<path>`` → the stand-in's ``/_stripe/<path>`` (hosted pages only)."""
    if not getattr(settings, "DEVTOOLS_ALLOWED", False):
        raise Http404("devtools are disabled")
    if not any(pattern.match(path) for pattern in HOSTED_PATHS):
        raise Http404("not a hosted page of the Stripe stand-in")
    base = _loopback_base()
    if base is None:
        raise Http404("no offline Stripe stand-in (STRIPE_API_HOST is not a loopback http URL)")
    # No query string, cookie or header of the browser's goes on: the path alone names the page.
    url = f"{base}/_stripe/{path}"
    upstream = urllib.request.Request(url, method=request.method)  # noqa: S310 (loopback only)
    try:
        with urllib.request.urlopen(upstream, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            status, content, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as e:
        status, content, headers = e.code, e.read(), e.headers
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return HttpResponse(
            f"Stripe stand-in unreachable at {base}: {e}", status=502, content_type="text/plain"
        )
    content_type = headers.get("Content-Type", "")
    if content_type.split(";")[0].strip() not in HOSTED_CONTENT_TYPES:
        # The stand-in answers pages and PDFs; anything else (its JSON errors) stays behind.
        raise Http404("not a hosted page of the Stripe stand-in")
    response = HttpResponse(content, status=status, content_type=content_type)
    for name in HOSTED_RETURNED_HEADERS:
        if headers.get(name):
            response[name] = headers[name]
    return response
