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

Only ``/js.stripe.com/v3/`` and ``/v1/...`` are forwarded. The server's secret key is never
added: the browser's own publishable key (in the body, or a ``Bearer pk_...`` header) is all
that travels, so the proxy cannot be used to act with the secret key.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

TIMEOUT_SECONDS = 15
FORWARDED_HEADERS = ("Content-Type", "Accept", "Idempotency-Key", "Stripe-Version")
RETURNED_HEADERS = ("Request-Id", "Idempotent-Replayed", "Cache-Control")


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
    if auth.startswith("Bearer pk_"):  # never forward anything but a publishable key
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
