"""The aiohttp application: localstripe's handlers behind our middlewares and extra routes.

Middlewares, outermost first:

* ``journal`` — gives every request a ``Request-Id`` and records ``/v1/`` requests for
  ``GET /_config/requests``.
* ``cors`` — answers CORS preflights (localstripe's failed) and adds CORS headers.
* ``idempotency`` — Stripe's ``Idempotency-Key``: the first response to a POST is replayed for
  24 h (same status and body, header ``Idempotent-Replayed: true``) without running it again;
  the same key with other parameters is a 400 ``idempotency_error``; a key still in flight is a
  409. Validation errors (400) and server errors are not saved, as on Stripe.
* ``errors`` — localstripe's ``UserError`` plus Stripe-shaped 404 for unknown URLs and 500
  ``api_error`` for crashes.
* ``auth`` — a secret key (``sk_``/``rk_``) everywhere, but only in the ``Authorization``
  header (a ``key`` parameter that is not a ``pk_`` is a 401); a publishable key (``pk_``) only
  where Stripe.js may use one: creating tokens / sources / payment methods, and confirming or
  authenticating / reading a PaymentIntent or a SetupIntent **with its client_secret**.
* ``persist`` — writes the state pickle after each mutating request.

Besides localstripe's routes: ``/_config/...`` (test helpers, no key), the Stripe.js stand-in at
``/js.stripe.com/v3/``, ``POST /v1/billing_portal/sessions`` and the hosted pages under
``/_stripe/`` (``pages.py``; no key, like Stripe's own hosted pages).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import traceback

from aiohttp import web
from localstripe import resources as R
from localstripe import server as ls
from localstripe.errors import UserError

from . import context, hosted, pages, state
from .errors import StripeError, idempotency_error, invalid_request
from .patches import billing_portal, coupons, customers, schedules, subscriptions, trials
from .patches.events import dispatcher, retry_delays
from .patches.prices import Price

log = logging.getLogger("fakestripe")

JS_PATH = os.path.join(os.path.dirname(__file__), "js", "stripe-v3.js")
IDEMPOTENCY_TTL = 24 * 3600
IDEMPOTENCY_STORE_KEY = "fakestripe:idempotency"
CORS_HEADERS = "Content-Type, Accept, Authorization, Idempotency-Key, Stripe-Version"

journal: list[dict] = []
#: Faults to inject into the next matching ``/v1/`` requests (``POST /_config/faults``).
faults: list[dict] = []


def json_response(data, status=200, headers=None):
    return ls.json_response(data, status=status, headers=headers)


# -- middlewares -------------------------------------------------------------------------------


@web.middleware
async def journal_mw(request, handler):
    rid = context.new_request_id()
    context.request_id.set(rid)
    context.idempotency_key.set(request.headers.get("Idempotency-Key"))
    try:
        response = await handler(request)
    except web.HTTPException as e:
        response = e
    if request.path.startswith("/v1/") and request.method != "OPTIONS":
        journal.append(
            {
                "method": request.method,
                "path": request.path,
                "idempotency_key": request.headers.get("Idempotency-Key"),
                "status": response.status,
            }
        )
    response.headers["Request-Id"] = rid
    if isinstance(response, web.HTTPException) and response.status >= 400:
        raise response
    return response


def _take_fault(request) -> dict | None:
    for fault in faults:
        if request.method == fault["method"] and request.path.startswith(fault["path"]):
            fault["remaining"] -= 1
            if fault["remaining"] <= 0:
                faults.remove(fault)
            return fault
    return None


@web.middleware
async def faults_mw(request, handler):
    """Stripe failing on purpose, for the app's failure tests.

    ``error``: answer ``status`` (a 5xx) before doing anything, as an outage of Stripe's API.
    ``drop``: do the request (objects are created, the idempotent result is saved) and then
    close the connection without an answer, as a timeout after Stripe acted.
    """
    fault = _take_fault(request) if request.path.startswith("/v1/") else None
    if fault is None:
        return await handler(request)
    if fault["action"] == "error":
        body = {"error": {"type": "api_error", "message": "Injected failure of the stand-in."}}
        return json_response(body, status=fault["status"])
    response = await handler(request)
    if request.transport is not None:
        request.transport.close()
    return response


@web.middleware
async def cors_mw(request, handler):
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        return web.Response(status=200)
    return await handler(request)


async def add_cors_headers(request, response):
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS, DELETE"
        response.headers["Access-Control-Expose-Headers"] = "Request-Id, Idempotent-Replayed"


def _idempotency_cache() -> dict:
    cache = R.store.get(IDEMPOTENCY_STORE_KEY)
    if cache is None:
        cache = {}
        dict.__setitem__(R.store, IDEMPOTENCY_STORE_KEY, cache)
    now = time.time()
    for key in [k for k, v in cache.items() if now - v["created"] > IDEMPOTENCY_TTL]:
        del cache[key]
    return cache


@web.middleware
async def idempotency_mw(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    body = await request.read()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.path_qs.encode() + b"\n" + body
    ).hexdigest()
    cache = _idempotency_cache()
    entry = cache.get(key)
    if entry is not None:
        if entry.get("in_flight"):
            return idempotency_error(
                "There is currently another in-progress request using this Idempotent Key (that "
                "probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                status=409,
            ).to_response()
        if entry["digest"] != digest:
            return idempotency_error(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            ).to_response()
        return web.Response(
            status=entry["status"],
            body=entry["body"],
            content_type="application/json",
            headers={"Idempotent-Replayed": "true", "Original-Request": entry["request_id"]},
        )
    cache[key] = {"in_flight": True, "digest": digest, "created": time.time()}
    response = None
    try:
        response = await handler(request)
    finally:
        if (
            isinstance(response, web.Response)
            and response.status not in (400, 401, 409, 429)
            and response.status < 500
        ):
            cache[key] = {
                "digest": digest,
                "created": time.time(),
                "status": response.status,
                "body": response.body,
                "request_id": context.request_id.get(),
            }
        else:
            cache.pop(key, None)
        state.mark_dirty()
    return response


@web.middleware
async def errors_mw(request, handler):
    try:
        return await handler(request)
    except UserError as e:
        return e.to_response()
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        ).to_response()
    except web.HTTPException:
        raise
    except Exception as e:  # a localstripe crash: answer like Stripe's 500
        log.error(
            "internal error on %s %s\n%s", request.method, request.path, traceback.format_exc()
        )
        return StripeError(
            500, "api_error", f"fakestripe internal error: {e.__class__.__name__}: {e}"
        ).to_response()


PK_POST_ROUTES = (
    r"^/v1/tokens$",
    r"^/v1/sources$",
    r"^/v1/payment_methods$",
)
# Stripe.js reads, confirms and authenticates an intent with its client_secret only.
PK_INTENT_ROUTES = r"^/v1/(payment_intent|setup_intent)s/(\w+)(/confirm|/_authenticate)?$"


def _header_key(request) -> str | None:
    import base64

    parts = request.headers.get("Authorization", "").split(" ")
    if len(parts) != 2:
        return None
    if parts[0] == "Bearer":
        return parts[1]
    if parts[0] == "Basic":
        try:
            return base64.b64decode(parts[1]).decode().split(":")[0]
        except ValueError:
            return None
    return None


@web.middleware
async def auth_mw(request, handler):
    if (
        request.path.startswith(("/js.stripe.com/", "/_config/", hosted.PREFIX + "/"))
        or request.method == "OPTIONS"
    ):
        return await handler(request)
    key = _header_key(request)
    if request.method == "POST":
        data = await ls.get_post_data(request, remove_auth=False) or {}
    else:
        data = ls.unflatten_data(request.query)
    if key is None and "key" in data:
        # Stripe.js sends its publishable key as a parameter; a secret key only ever travels in
        # the Authorization header. A ``key=sk_...`` in the query or body is refused, so a
        # same-origin proxy that passes parameters through cannot lend anyone a secret key.
        if not (isinstance(data["key"], str) and data["key"].startswith("pk_")):
            raise invalid_request(
                "A `key` parameter must be a publishable key (pk_...). Send a secret key in "
                "the Authorization header (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                status=401,
            )
        key = data["key"]
    if not key:
        raise invalid_request(
            "You did not provide an API key. You need to provide your API key "
            "in the Authorization header, using Bearer auth (e.g. "
            "'Authorization: Bearer YOUR_SECRET_KEY').",
            status=401,
        )
    if key.startswith(("sk_test_", "rk_test_")) and len(key) > 8:
        return await handler(request)
    if key.startswith("pk_test_"):
        if request.method == "POST" and any(re.match(p, request.path) for p in PK_POST_ROUTES):
            return await handler(request)
        m = re.match(PK_INTENT_ROUTES, request.path)
        if m and (m.group(3) or request.method == "GET"):
            intent = R.store.get(f"{m.group(1)}:{m.group(2)}")
            if intent is not None and data.get("client_secret") == intent.client_secret:
                return await handler(request)
            raise invalid_request(
                f"No such {m.group(1)}: '{m.group(2)}'",
                code="resource_missing",
                param="intent",
                status=404,
            )
        raise StripeError(
            401,
            "invalid_request_error",
            "This API call cannot be made with a publishable API key. Please use a "
            "secret API key. You can find a list of your API keys at "
            "https://dashboard.stripe.com/account/apikeys.",
        )
    masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
    raise invalid_request(f"Invalid API Key provided: {masked}", status=401)


@web.middleware
async def persist_mw(request, handler):
    try:
        return await handler(request)
    finally:
        if request.method in ("POST", "DELETE", "PUT"):
            state.mark_dirty()
            state.flush()


# -- handlers ----------------------------------------------------------------------------------


def serve_js(request):
    with open(JS_PATH) as f:
        return web.Response(
            text=f.read(),
            content_type="application/javascript",
            headers={"Cache-Control": "no-store"},
        )


async def get_account(request):
    account = customers.account()
    account_id = request.match_info.get("id")
    if account_id is not None and account_id != account["id"]:
        raise invalid_request(
            f"No such account: '{account_id}'", code="resource_missing", param="account", status=404
        )
    return json_response(account)


async def list_product_features(request):
    """Stripe: ``GET /v1/products/{id}/features`` (Entitlements). dj-stripe lists them when it
    mirrors a product; the stand-in has none, so an empty list (404 for an unknown product)."""
    product_id = request.match_info["id"]
    R.Product._api_retrieve(product_id)  # 404 for an unknown product, as Stripe
    url = f"/v1/products/{product_id}/features"
    return json_response({"object": "list", "data": [], "has_more": False, "url": url})


async def create_webhook_endpoint(request):
    data = await ls.get_post_data(request) or {}
    data.pop("expand", None)
    endpoint = customers.WebhookEndpoint(**data)
    return json_response(endpoint._created_export())


async def config_webhook(request):
    name = request.match_info["name"]
    data = await ls.get_post_data(request) or {}
    url, secret, events = data.get("url"), data.get("secret"), data.get("events")
    if isinstance(events, str):
        events = [events]
    if not url or not secret or not str(url).startswith("http"):
        raise invalid_request("url (http...) and secret are required")
    if events is not None and not isinstance(events, list):
        raise invalid_request("events must be a list of event types")
    # Optional: this endpoint's delivery retry schedule, seconds after each failed attempt.
    retries = data.get("retries")
    if retries is not None:
        try:
            retries = retry_delays(retries)
        except ValueError as e:
            raise invalid_request(str(e), param="retries") from None
    dispatcher.register(name, url, secret, events, retries=retries)
    return json_response(dispatcher.targets[name].public())


async def list_webhooks(request):
    return json_response(dispatcher.config())


async def delete_webhook(request):
    if not dispatcher.unregister(request.match_info["name"]):
        raise invalid_request("No such webhook", status=404)
    return json_response({"deleted": True})


async def flush_data(request):
    R.store.clear()
    return json_response({"flushed": True})


async def get_requests(request):
    return json_response(list(journal))


async def add_fault(request):
    """``{"method": "POST", "path": "/v1/subscriptions", "action": "error"|"drop",
    "status": 500, "count": 1}``: the next ``count`` matching requests fail that way."""
    data = await request.json()
    action = data.get("action", "error")
    if action not in ("error", "drop") or not str(data.get("path", "")).startswith("/v1/"):
        raise invalid_request("Give action 'error' or 'drop' and a path starting with /v1/.")
    fault = {
        "method": str(data.get("method", "POST")).upper(),
        "path": data["path"],
        "action": action,
        "status": int(data.get("status", 500)),
        "remaining": int(data.get("count", 1)),
    }
    faults.append(fault)
    return json_response(fault)


async def clear_faults(request):
    faults.clear()
    return json_response({"cleared": True})


async def clear_requests(request):
    journal.clear()
    return json_response({"cleared": True})


async def get_deliveries(request):
    return json_response(dispatcher.deliveries())


def _sub_helper(func):
    async def handler(request):
        sub = func(request.match_info["id"])
        return json_response(sub._export(expand=["latest_invoice"]))

    return handler


async def subscription_backdate(request):
    """``{"seconds": N}``: the subscription's current period moved N seconds into the past."""
    data = await ls.get_post_data(request) or {}
    seconds = R.try_convert_to_int(data.get("seconds"))
    sub = subscriptions.backdate(request.match_info["id"], seconds)
    return json_response(sub._export(expand=["latest_invoice"]))


def _invoice_helper(func):
    async def handler(request):
        return json_response(func(request.match_info["id"])._export())

    return handler


async def get_public_url(request):
    return json_response({"public_url": hosted.public_url(), "base": hosted.base()})


async def set_public_url(request):
    """``{"public_url": "http://127.0.0.1:8000/_dev"}`` (null: back to the stand-in's own URL):
    the base of ``hosted_invoice_url``, ``invoice_pdf`` and portal session URLs."""
    data = await ls.get_post_data(request) or {}
    try:
        hosted.set_public_url(data.get("public_url"))
    except ValueError as e:
        raise invalid_request(str(e), param="public_url") from None
    return await get_public_url(request)


async def create_portal_session(request):
    data = await ls.get_post_data(request) or {}
    expand = data.pop("expand", None)
    return json_response(billing_portal.create_session(**data)._export(expand=expand))


async def health(request):
    return json_response({"ok": True, "state_dir": state.state_dir()})


def _late(func):
    """Call ``owner.name`` at request time, so patched classmethods win over import-time ones."""
    owner = getattr(func, "__self__", None)
    if owner is None:
        return func
    name = func.__name__

    def call(**kwargs):
        return getattr(owner, name)(**kwargs)

    return call


def add_resource_routes(router, cls, skip=()):
    plural = "/v1/" + cls.object + "s"
    for method, url, factory in (
        ("POST", plural, ls.api_create),
        ("GET", plural + "/{id}", ls.api_retrieve),
        ("POST", plural + "/{id}", ls.api_update),
        ("DELETE", plural + "/{id}", ls.api_delete),
        ("GET", plural, ls.api_list_all),
    ):
        if (method, url) not in skip:
            router.add_route(method, url, factory(cls, url))


LOCALSTRIPE_CLASSES = (
    R.BalanceTransaction,
    R.Charge,
    R.Coupon,
    R.Customer,
    R.Event,
    R.Invoice,
    R.InvoiceItem,
    R.PaymentIntent,
    R.PaymentMethod,
    R.Payout,
    R.Plan,
    R.Product,
    R.Refund,
    R.SetupIntent,
    R.Source,
    R.Subscription,
    R.SubscriptionItem,
    R.TaxRate,
    R.Token,
)


def build_app(access_log: bool = False) -> web.Application:
    app = web.Application(
        middlewares=[journal_mw, faults_mw, cors_mw, idempotency_mw, errors_mw, auth_mw, persist_mw]
    )
    app.on_response_prepare.append(add_cors_headers)
    r = app.router
    r.add_get("/js.stripe.com/v3/", serve_js)
    r.add_get("/js.stripe.com/v3", serve_js)
    r.add_get("/_config/health", health)
    r.add_post("/_config/webhooks/{name}", config_webhook)
    r.add_delete("/_config/webhooks/{name}", delete_webhook)
    r.add_get("/_config/webhooks", list_webhooks)
    r.add_delete("/_config/data", flush_data)
    r.add_get("/_config/requests", get_requests)
    r.add_delete("/_config/requests", clear_requests)
    r.add_get("/_config/deliveries", get_deliveries)
    r.add_post("/_config/faults", add_fault)
    r.add_delete("/_config/faults", clear_faults)
    r.add_post("/_config/subscriptions/{id}/renew", _sub_helper(subscriptions.renew))
    r.add_post(
        "/_config/subscriptions/{id}/fail_renewal",
        _sub_helper(lambda sid: subscriptions.renew(sid, fail=True)),
    )
    r.add_post(
        "/_config/subscriptions/{id}/expire_incomplete",
        _sub_helper(subscriptions.expire_incomplete),
    )
    r.add_post("/_config/invoices/{id}/retry", _invoice_helper(subscriptions.retry_invoice))
    r.add_post("/_config/subscriptions/{id}/backdate", subscription_backdate)
    r.add_post("/_config/subscriptions/{id}/trial_will_end", _sub_helper(trials.trial_will_end))
    r.add_post("/_config/subscriptions/{id}/end_trial", _sub_helper(trials.end_trial))
    r.add_get("/_config/public_url", get_public_url)
    r.add_post("/_config/public_url", set_public_url)
    pages.add_routes(r)
    r.add_post("/v1/billing_portal/sessions", create_portal_session)
    r.add_get("/v1/account", get_account)
    r.add_get("/v1/accounts/{id}", get_account)
    r.add_get("/v1/products/{id}/features", list_product_features)
    r.add_post("/v1/webhook_endpoints", create_webhook_endpoint)
    add_resource_routes(r, customers.WebhookEndpoint, skip={("POST", "/v1/webhook_endpoints")})
    add_resource_routes(r, Price)
    schedule_cls = schedules.SubscriptionSchedule
    for action in ("release", "cancel"):
        url = f"/v1/subscription_schedules/{{id}}/{action}"
        r.add_route("POST", url, ls.api_extra(getattr(schedules, "api_" + action + "_route"), url))
    add_resource_routes(r, schedule_cls, skip={("DELETE", "/v1/subscription_schedules/{id}")})
    add_resource_routes(r, coupons.PromotionCode, skip={("DELETE", "/v1/promotion_codes/{id}")})
    # localstripe's extra routes first (`/v1/invoices/upcoming` before `/v1/invoices/{id}`)
    for method, url, func in R.extra_apis:
        r.add_route(method, url, ls.api_extra(_late(func), url))
    for cls in LOCALSTRIPE_CLASSES:
        add_resource_routes(r, cls)

    async def on_shutdown(app):
        await dispatcher.close()
        state.flush()

    app.on_shutdown.append(on_shutdown)
    return app
