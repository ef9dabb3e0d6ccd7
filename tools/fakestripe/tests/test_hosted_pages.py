"""The hosted pages: an invoice's page and PDF, the billing portal, and the public base their
URLs are built on — created with stripe-python, fetched over HTTP like a browser would."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import stripe

from fakestripe.launcher import FakeStripeError
from fakestripe.patches.billing_portal import (
    UNVISITED_LIFETIME,
    VISITED_LIFETIME,
    BillingPortalSession,
)

TOKEN = r"test_[A-Za-z0-9_-]{43}"


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def paid_subscription(client, price, *, name="Ada Lovelace"):
    cus = client.v1.customers.create(
        params={"email": f"h{uuid.uuid4().hex[:8]}@example.com", "name": name}
    )
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "default_payment_method": pm.id}
    )
    assert sub.status == "active"
    return cus, sub


def pdf_text(data: bytes) -> list[str]:
    """Check the PDF's structure as a reader does (header, startxref → xref table whose offsets
    each point at their object, trailer's Root → Pages → one Page → its content stream of the
    declared length) and return the strings it draws."""
    assert data.startswith(b"%PDF-1.4\n") and data.rstrip().endswith(b"%%EOF")
    xref_at = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[xref_at:].startswith(b"xref\n")
    head = re.match(rb"xref\n0 (\d+)\n", data[xref_at:])
    count = int(head.group(1))
    table = data[xref_at + head.end() : xref_at + head.end() + 20 * count]
    entries = [table[i * 20 : (i + 1) * 20] for i in range(count)]
    assert entries[0] == b"0000000000 65535 f \n"
    objects = {}
    for number, entry in enumerate(entries[1:], start=1):
        assert entry.endswith(b" 00000 n \n"), entry
        offset = int(entry[:10])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
        objects[number] = data[offset : data.index(b"endobj", offset)]
    trailer = data[xref_at + head.end() + 20 * count :]
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))
    assert int(re.search(rb"/Size (\d+)", trailer).group(1)) == count
    pages = int(re.search(rb"/Pages (\d+) 0 R", objects[root]).group(1))
    assert b"/Count 1" in objects[pages]
    page = int(re.search(rb"/Kids \[(\d+) 0 R\]", objects[pages]).group(1))
    assert b"/Type /Page " in objects[page] and b"/MediaBox [0 0 612 792]" in objects[page]
    contents = int(re.search(rb"/Contents (\d+) 0 R", objects[page]).group(1))
    stream = objects[contents]
    length = int(re.search(rb"/Length (\d+)", stream).group(1))
    body = stream[stream.index(b"stream\n") + 7 :]
    assert body[length:].startswith(b"\nendstream")
    strings = re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", body[:length])
    return [re.sub(rb"\\(.)", rb"\1", s).decode("cp1252") for s in strings]


# -- the invoice's page and PDF ----------------------------------------------------------------


def test_a_finalized_invoice_has_its_page_and_pdf_behind_a_token(fake, client, price):
    cus, sub = paid_subscription(client, price, name="Zoë <script>alert(1)</script>")
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert re.fullmatch(
        re.escape(fake.url) + "/_stripe/invoices/" + TOKEN, invoice.hosted_invoice_url
    )
    assert invoice.invoice_pdf == invoice.hosted_invoice_url + "/pdf"
    assert invoice.id[3:] not in invoice.hosted_invoice_url  # not derived from the id

    status, headers, body = fetch(invoice.hosted_invoice_url)

    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    page = body.decode()
    assert "<script" not in page  # the customer's name is text, not markup
    assert "Zoë &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert invoice.number in page and "$15.00 paid on" in page and ">Paid<" in page
    token = invoice.hosted_invoice_url.rsplit("/", 1)[1]
    link = re.search(r"<a class=button href='([^']+)' download>Download PDF</a>", page).group(1)
    assert urllib.parse.urljoin(invoice.hosted_invoice_url, link) == invoice.invoice_pdf
    assert link == f"{token}/pdf"  # relative: works under any prefix (the app's proxy)

    status, headers, pdf = fetch(invoice.invoice_pdf)

    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == f'attachment; filename="Invoice-{invoice.number}.pdf"'
    drawn = pdf_text(pdf)
    for text in (invoice.number, "Paid", "Premium", "$15.00", cus.email, cus.name):
        assert text in drawn, (text, drawn)
    if shutil.which("pdftotext"):  # poppler, when installed, reads it as well
        read = subprocess.run(
            ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30
        )
        assert invoice.number in read.stdout.decode() and read.stderr == b""


def test_an_open_invoice_page_says_what_is_due(fake, client, price):
    _, sub = paid_subscription(client, price)
    invoice_id = fake.fail_renewal(sub.id)["latest_invoice"]["id"]
    invoice = client.v1.invoices.retrieve(invoice_id)
    status, _, body = fetch(invoice.hosted_invoice_url)
    assert status == 200 and "$15.00 due" in body.decode() and ">Due<" in body.decode()
    assert "Amount remaining" in pdf_text(fetch(invoice.invoice_pdf)[2])


def test_unknown_tokens_and_paths_are_not_found(fake):
    for path in (
        "/_stripe/invoices/test_" + "x" * 43,
        "/_stripe/invoices/test_" + "x" * 43 + "/pdf",
        "/_stripe/portal/test_" + "x" * 43,
    ):
        status, headers, body = fetch(fake.url + path)
        assert status == 404 and headers["Content-Type"].startswith("text/html"), path
        assert b"Not found" in body
    status, _, _ = fetch(fake.url + "/_stripe/anything")
    assert status == 404


def test_hosted_urls_follow_the_public_base(fake, client, price):
    _, sub = paid_subscription(client, price)
    try:
        assert fake.set_public_url("http://127.0.0.1:8000/_dev/") == "http://127.0.0.1:8000/_dev"
        invoice = client.v1.invoices.retrieve(sub.latest_invoice)
        assert re.fullmatch(
            r"http://127\.0\.0\.1:8000/_dev/_stripe/invoices/" + TOKEN, invoice.hosted_invoice_url
        )
        session = client.v1.billing_portal.sessions.create(params={"customer": sub.customer})
        assert session.url.startswith("http://127.0.0.1:8000/_dev/_stripe/portal/test_")
        for wrong in ("ftp://x/", "http://u:p@host/", "http://host/?q=1", "/relative"):
            with pytest.raises(FakeStripeError, match="HTTP 400"):
                fake.set_public_url(wrong)
    finally:
        assert fake.set_public_url(None) == fake.url
    again = client.v1.invoices.retrieve(sub.latest_invoice)
    token = invoice.hosted_invoice_url.rsplit("/", 1)[1]
    assert again.hosted_invoice_url == f"{fake.url}/_stripe/invoices/{token}"  # same token


# -- the billing portal ------------------------------------------------------------------------


def test_portal_session_in_stripes_shape_and_its_page(fake, client, price):
    cus, sub = paid_subscription(client, price)
    return_url = "http://127.0.0.1:8000/account?tab=billing&x='\"<"

    session = client.v1.billing_portal.sessions.create(
        params={"customer": cus.id, "return_url": return_url, "locale": "auto"}
    )

    assert set(session.to_dict()) == {
        "id", "object", "configuration", "created", "customer", "customer_account", "flow",
        "livemode", "locale", "on_behalf_of", "return_url", "url",
    }  # fmt: skip
    assert session.object == "billing_portal.session" and session.id.startswith("bps_")
    assert session.customer == cus.id and session.return_url == return_url
    assert session.configuration.startswith("bpc_") and session.livemode is False
    assert re.fullmatch(re.escape(fake.url) + "/_stripe/portal/" + TOKEN, session.url)

    status, headers, body = fetch(session.url)

    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    page = body.decode()
    href = re.search(r"<a href='([^']*)'>← Return to ([^<]+)</a>", page)
    assert href.group(2) == "Open SEC Data (offline)"
    assert href.group(1) == "http://127.0.0.1:8000/account?tab=billing&amp;x=&#x27;&quot;&lt;"
    assert "Visa •••• 4242" in page and "Premium" in page and "Renews on" in page
    assert cus.email in page
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    link = re.search(r"<a href='(\.\./invoices/[^']+)'>Invoice ", page).group(1)
    assert urllib.parse.urljoin(session.url, link) == invoice.hosted_invoice_url
    assert fetch(session.url)[0] == 200  # opened again within the hour

    same_config = client.v1.billing_portal.sessions.create(
        params={"customer": cus.id, "configuration": session.configuration}
    )
    assert same_config.return_url is None and "Return to" not in fetch(same_config.url)[2].decode()


@pytest.mark.parametrize(
    ("params", "status", "param"),
    [
        ({}, 400, "customer"),
        ({"customer": "cus_doesnotexist"}, 404, "customer"),
        ({"return_url": "javascript:alert(1)"}, 400, "return_url"),
        ({"return_url": "/account"}, 400, "return_url"),
        ({"configuration": "bpc_unknown"}, 404, "configuration"),
        ({"locale": "xx-YY"}, 400, "locale"),
        ({"flow_data": {"type": "payment_method_update"}}, 400, "flow_data"),
        ({"colour": "blue"}, 400, "colour"),
    ],
)
def test_portal_session_refusals(client, params, status, param):
    if "customer" not in params and params:
        params = {"customer": client.v1.customers.create(params={}).id, **params}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing_portal.sessions.create(params=params)
    assert refused.value.http_status == status and refused.value.param == param
    assert refused.value.user_message


def test_portal_sessions_are_short_lived():
    """Unvisited, the URL lapses after 5 minutes; opened, the session lasts an hour (the
    object's own rule, checked without waiting)."""
    session = BillingPortalSession.__new__(BillingPortalSession)
    session._fs_expires_at, session._fs_visited = 1000 + UNVISITED_LIFETIME, False
    assert not BillingPortalSession._fs_open(session, now=1000 + UNVISITED_LIFETIME + 1)
    assert BillingPortalSession._fs_open(session, now=1100)
    assert session._fs_expires_at == 1100 + VISITED_LIFETIME
    assert BillingPortalSession._fs_open(session, now=1100 + VISITED_LIFETIME - 1)
    assert not BillingPortalSession._fs_open(session, now=1100 + VISITED_LIFETIME + 1)


def test_zz_no_internal_errors_in_the_server_log(fake):
    assert "internal error" not in fake.log_tail(100000)
