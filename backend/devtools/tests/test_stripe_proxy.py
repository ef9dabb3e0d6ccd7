"""The same-origin dev proxy to the Stripe stand-in (devtools/stripe_proxy.py)."""

from __future__ import annotations

import json

import pytest
from django.http import Http404

from devtools.stripe_proxy import stripe_proxy


def test_dev_proxy_forwards_to_stand_in(fake_stripe, settings, rf):
    fake = fake_stripe
    settings.DEVTOOLS_ALLOWED = True
    settings.STRIPE_API_HOST = fake.url
    response = stripe_proxy(rf.get("/js.stripe.com/v3/"), path="js.stripe.com/v3/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = json.dumps(
        {
            "key": fake.publishable_key,
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2032, "cvc": "123"},
        }
    )
    response = stripe_proxy(
        rf.post("/v1/payment_methods", data=body, content_type="application/json"),
        path="payment_methods",
    )
    assert response.status_code == 200 and json.loads(response.content)["card"]["last4"] == "4242"
    # the browser never gets the secret key's powers through the proxy: refused before the stand-in
    response = stripe_proxy(
        rf.get("/v1/customers", HTTP_AUTHORIZATION="Bearer sk_test_xxxxxxxxxx"), path="customers"
    )
    assert response.status_code == 403
    settings.DEVTOOLS_ALLOWED = False
    with pytest.raises(Http404):
        stripe_proxy(rf.get("/v1/customers"), path="customers")


# --- Only what Stripe.js sends, only with a publishable key (issue 12, item 1) -------------


@pytest.fixture
def live_subscription(stripe_ready):
    """A paid subscription of somebody, made directly in the stand-in."""
    from billing import services
    from fakestripe.testing import stripe_client as stand_in

    client = stand_in(stripe_ready)
    customer = client.v1.customers.create(params={"email": "victim@example.com"})
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    return client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": services.price_get().id}],
            "default_payment_method": method.id,
            "payment_behavior": "allow_incomplete",
        }
    )


def _status_at_stand_in(fake, subscription_id: str) -> str:
    from fakestripe.testing import stripe_client as stand_in

    return stand_in(fake).v1.subscriptions.retrieve(subscription_id).status


@pytest.mark.parametrize(
    "where",
    ["query", "form body", "json body", "bearer header"],
)
def test_a_secret_key_through_the_proxy_cancels_nobodys_subscription(
    client, stripe_ready, live_subscription, where
):
    """``curl -X DELETE "$B/v1/subscriptions/$SUB?key=sk_test_x"`` and its variants."""
    url = f"/v1/subscriptions/{live_subscription.id}"
    secret = stripe_ready.secret_key
    if where == "query":
        response = client.delete(f"{url}?key={secret}")
    elif where == "form body":
        response = client.delete(
            url, data=f"key={secret}", content_type="application/x-www-form-urlencoded"
        )
    elif where == "json body":
        response = client.delete(url, data={"key": secret}, content_type="application/json")
    else:
        response = client.delete(url, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403, response.content
    assert "error" in response.json()
    assert _status_at_stand_in(stripe_ready, live_subscription.id) == "active"
    assert not [r for r in stripe_ready.requests_log() if r["method"] == "DELETE"]


def test_the_proxy_does_not_reach_endpoints_stripe_js_never_calls(client, stripe_ready):
    """``POST $B/v1/webhook_endpoints -d key=sk_test_x -d url=...`` would redirect every event;
    with a publishable key too, the route itself is not one Stripe.js uses."""
    for key in (stripe_ready.secret_key, stripe_ready.publishable_key):
        response = client.post(
            "/v1/webhook_endpoints",
            data=f"key={key}&url=https://attacker.example/hook&enabled_events[]=*",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 403, response.content
    response = client.get(f"/v1/customers?key={stripe_ready.publishable_key}")
    assert response.status_code == 403
    assert [r for r in stripe_ready.requests_log() if "webhook_endpoints" in r["path"]] == []
    assert [r for r in stripe_ready.requests_log() if r["path"] == "/v1/customers"] == []


def test_a_secret_key_beside_a_publishable_one_is_refused(client, stripe_ready):
    body = json.dumps({"key": stripe_ready.publishable_key, "type": "card"})
    response = client.post(
        f"/v1/payment_methods?key={stripe_ready.secret_key}",
        data=body,
        content_type="application/json",
    )
    assert response.status_code == 403
    response = client.post(
        "/v1/payment_methods", data=body, content_type="text/plain"
    )  # a body the proxy cannot read is not passed on
    assert response.status_code == 403
    assert [r for r in stripe_ready.requests_log() if r["path"] == "/v1/payment_methods"] == []


def test_what_stripe_js_sends_still_passes_through_the_routes(client, stripe_ready):
    """The same-origin routes (config/urls.py) in front of the proxy: Stripe.js's own calls."""
    assert client.get("/js.stripe.com/v3/").status_code == 200
    response = client.post(
        "/v1/payment_methods",
        data={
            "key": stripe_ready.publishable_key,
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2032, "cvc": "123"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"].startswith("pm_")


# --- The stand-in's hosted pages, same-origin under /_dev/_stripe/ (issue 11) ---------------


def _hosted_path(url: str) -> str:
    """``/_stripe/...`` of a hosted URL the stand-in handed out."""
    return url[url.index("/_stripe/") :]


@pytest.fixture
def paid_invoice(live_subscription, stripe_ready):
    from fakestripe.testing import stripe_client as stand_in

    return stand_in(stripe_ready).v1.invoices.retrieve(live_subscription.latest_invoice)


def test_hosted_urls_on_the_apps_origin_open_through_the_proxy(
    client, stripe_ready, live_subscription
):
    """With the app's public URL (what make run / make stack give the stand-in), the invoice's
    hosted_invoice_url, invoice_pdf and a portal session's url are pages of the app's origin."""
    from fakestripe.testing import stripe_client as stand_in

    stripe = stand_in(stripe_ready)
    stripe_ready.set_public_url("http://testserver/_dev")
    try:
        invoice = stripe.v1.invoices.retrieve(live_subscription.latest_invoice)
        portal = stripe.v1.billing_portal.sessions.create(
            params={
                "customer": live_subscription.customer,
                "return_url": "http://testserver/account",
            }
        )
    finally:
        stripe_ready.set_public_url(None)
    assert invoice.hosted_invoice_url.startswith("http://testserver/_dev/_stripe/invoices/test_")
    assert portal.url.startswith("http://testserver/_dev/_stripe/portal/test_")

    page = client.get(invoice.hosted_invoice_url.removeprefix("http://testserver"))
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert invoice.number in page.content.decode() and "Download PDF" in page.content.decode()
    assert "default-src 'none'" in page["Content-Security-Policy"]
    assert page["Referrer-Policy"] == "no-referrer" and page["Cache-Control"] == "no-store"

    pdf = client.get(invoice.invoice_pdf.removeprefix("http://testserver"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
    assert pdf["Content-Disposition"].startswith("attachment; filename=")

    head = client.head(invoice.hosted_invoice_url.removeprefix("http://testserver"))
    assert head.status_code == 200 and head.content == b""

    portal_page = client.get(portal.url.removeprefix("http://testserver"))
    assert portal_page.status_code == 200
    assert "href='http://testserver/account'>← Return to" in portal_page.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/_dev/_stripe/v1/customers",
        "/_dev/_stripe/_config/health",
        "/_dev/_stripe/js.stripe.com/v3/",
        "/_dev/_stripe/invoices/in_1234567890abcdef",
        "/_dev/_stripe/invoices/test_short",
        "/_dev/_stripe/invoices/test_aaaaaaaaaaaaaaaaaaaa/../../_config/health",
        "/_dev/_stripe/invoices/test_aaaaaaaaaaaaaaaaaaaa/pdf/more",
        "/_dev/_stripe/portal/",
        "/_dev/_stripe/",
    ],
)
def test_only_hosted_page_paths_are_forwarded(client, stripe_ready, path):
    stripe_ready.clear_requests_log()
    response = client.get(path)
    assert response.status_code == 404, (path, response.content[:200])
    assert stripe_ready.requests_log() == []  # nothing of the API was reached


def test_an_unknown_token_is_the_stand_ins_not_found_page(client, stripe_ready):
    response = client.get("/_dev/_stripe/invoices/test_" + "x" * 43)
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_hosted_pages_are_read_only_and_private(client, stripe_ready, paid_invoice):
    """Only GET/HEAD: a POST is 405 (nothing forwarded). The browser's query string, cookies and
    headers do not reach the stand-in (the path alone names the page)."""
    path = _hosted_path(paid_invoice.hosted_invoice_url)
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/_dev" + path).status_code == 405
    response = client.get("/_dev" + path + "?key=sk_test_x", HTTP_AUTHORIZATION="Bearer sk_test_x")
    assert response.status_code == 200  # the page, the query and header dropped on the way


def test_the_hosted_proxy_reaches_only_a_loopback_stand_in(
    rf, settings, stripe_ready, paid_invoice
):
    from devtools.stripe_proxy import hosted_page_proxy

    path = _hosted_path(paid_invoice.hosted_invoice_url).removeprefix("/_stripe/")
    settings.DEVTOOLS_ALLOWED = True
    settings.STRIPE_API_HOST = stripe_ready.url
    assert hosted_page_proxy(rf.get("/_dev/_stripe/" + path), path=path).status_code == 200
    for host in ("https://api.stripe.com", "http://10.0.0.8:12111", "http://example.com", ""):
        settings.STRIPE_API_HOST = host
        with pytest.raises(Http404):
            hosted_page_proxy(rf.get("/_dev/_stripe/" + path), path=path)
    settings.STRIPE_API_HOST = stripe_ready.url
    settings.DEVTOOLS_ALLOWED = False
    with pytest.raises(Http404):
        hosted_page_proxy(rf.get("/_dev/_stripe/" + path), path=path)
