"""The hosted pages: an invoice's page and PDF, and the customer portal, under ``/_stripe/``.

``GET /_stripe/invoices/<token>`` (HTML), ``GET /_stripe/invoices/<token>/pdf`` (a one-page PDF,
``pdf.py``) and ``GET /_stripe/portal/<token>`` (HTML), where ``<token>`` is the random secret of
the invoice's ``hosted_invoice_url`` or the portal session's ``url`` (``hosted.py`` builds those
URLs on the public base). No API key: like Stripe's hosted pages, knowing the URL is the access.

The browser usually gets them through the app's dev proxy, i.e. on the app's own origin, so they
are inert: every value is HTML-escaped, there is no script, and the answers carry a CSP that
allows none (plus ``nosniff``, ``no-referrer`` — the URL is a secret — and ``no-store``). Links
between the pages are relative, so they work under any prefix.
"""

from __future__ import annotations

import datetime
import html

from aiohttp import web
from localstripe import resources as R

from . import pdf
from .patches import billing_portal, customers, invoices

HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}
STATUS_WORDS = {
    "draft": "Draft",
    "open": "Due",
    "paid": "Paid",
    "void": "Void",
    "uncollectible": "Uncollectible",
}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1f36;
background:#f6f8fa;margin:0;padding:2rem 1rem;line-height:1.5}
main{max-width:40rem;margin:0 auto;background:#fff;border-radius:8px;padding:2rem;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:1.75rem 0 .5rem}
.account{color:#4f566b;margin:0}.amount{font-size:2rem;font-weight:600;margin:0}
.badge{display:inline-block;border-radius:4px;padding:0 .5rem;font-size:.85rem;
font-weight:600;background:#e3e8ee}.paid{background:#d7f7c2;color:#05690d}
.open,.past_due,.incomplete{background:#fcedb9;color:#a82c00}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{color:#4f566b}dd{margin:0}
table{width:100%;border-collapse:collapse;margin-top:.5rem}
th,td{text-align:left;padding:.4rem .25rem;border-bottom:1px solid #e3e8ee}
td.num,th.num{text-align:right}tfoot th{font-weight:400;color:#4f566b}
a{color:#0055de}.button{display:inline-block;margin-top:1.25rem;padding:.5rem 1rem;
border-radius:6px;background:#0055de;color:#fff;text-decoration:none;font-weight:600}
footer{max-width:40rem;margin:1rem auto 0;color:#697386;font-size:.85rem}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def money(amount: int | None, currency: str | None) -> str:
    """``$20.00``, ``€20.00``, ``1,500 JPY``: an amount in the smallest unit, for people."""
    currency = (currency or "usd").lower()
    amount = amount or 0
    if currency in ZERO_DECIMAL:
        return f"{amount:,} {currency.upper()}"
    value = f"{abs(amount) / 100:,.2f}"
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{value}" if symbol else f"{sign}{value} {currency.upper()}"


def day(timestamp: int | None) -> str:
    """``July 1, 2026`` (UTC)."""
    if not timestamp:
        return ""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return f"{moment:%B} {moment.day}, {moment.year}"


def _product_name(product_id: str | None) -> str | None:
    product = R.store.get(f"product:{product_id}") if product_id else None
    return getattr(product, "name", None)


def _account_name() -> str:
    return customers.account()["business_profile"]["name"]


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}<footer>Offline stand-in of Stripe's hosted "
        "pages (tools/fakestripe): test mode, no real money.</footer></body></html>\n"
    )
    return web.Response(
        text=document, status=status, content_type="text/html", headers=HTML_HEADERS
    )


def _missing(what: str) -> web.Response:
    return _page(
        "Not found",
        f"<main><h1>Not found</h1><p>There is no {esc(what)} at this address. Links to it "
        "come from the app; open it again from there.</p></main>",
        status=404,
    )


# -- invoice ----------------------------------------------------------------------------------


def _invoice_facts(invoice) -> dict:
    """What the page and the PDF show, from the invoice's API shape."""
    obj = invoice._export()
    customer = R.store.get(f"customer:{obj['customer']}")
    lines = []
    for line in obj["lines"]["data"]:
        details = (line.get("pricing") or {}).get("price_details") or {}
        period = line.get("period") or {}
        lines.append(
            {
                "description": _product_name(details.get("product")) or line.get("description"),
                "quantity": line.get("quantity") or 1,
                "amount": money(line["amount"], obj["currency"]),
                "period": (
                    f"{day(period['start'])} \N{EN DASH} {day(period['end'])}"
                    if period.get("start") and period.get("end")
                    else ""
                ),
            }
        )
    transitions = obj.get("status_transitions") or {}
    return {
        "number": obj.get("number") or obj["id"],
        "status": obj["status"],
        "status_word": STATUS_WORDS.get(obj["status"], obj["status"]),
        "issued": day(transitions.get("finalized_at") or obj["created"]),
        "paid_on": day(transitions.get("paid_at")),
        "customer_name": getattr(customer, "name", None),
        "customer_email": getattr(customer, "email", None) or obj.get("customer_email"),
        "lines": lines,
        "subtotal": money(obj["subtotal"], obj["currency"]),
        "total": money(obj["total"], obj["currency"]),
        "amount_due": money(obj["amount_due"], obj["currency"]),
        "amount_paid": money(obj["amount_paid"], obj["currency"]),
        "amount_remaining": money(obj["amount_remaining"], obj["currency"]),
        "account": _account_name(),
    }


def invoice_html(invoice, token: str) -> web.Response:
    facts = _invoice_facts(invoice)
    if facts["status"] == "paid":
        headline = f"{facts['amount_paid']} paid on {facts['paid_on']}"
    elif facts["status"] == "open":
        headline = f"{facts['amount_remaining']} due"
    else:
        headline = facts["total"]
    billed_to = "<br>".join(esc(v) for v in (facts["customer_name"], facts["customer_email"]) if v)
    rows = "".join(
        f"<tr><td>{esc(line['description'])}"
        + (f"<br><small>{esc(line['period'])}</small>" if line["period"] else "")
        + f"</td><td class=num>{esc(line['quantity'])}</td>"
        f"<td class=num>{esc(line['amount'])}</td></tr>"
        for line in facts["lines"]
    )
    open_note = (
        "<p>This invoice is still to be paid. Pay it from the app (the offline stand-in's "
        "hosted page takes no payments).</p>"
        if facts["status"] == "open"
        else ""
    )
    body = (
        f"<main><p class=account>{esc(facts['account'])}</p>"
        f"<h1>Invoice {esc(facts['number'])} "
        f"<span class='badge {esc(facts['status'])}'>{esc(facts['status_word'])}</span></h1>"
        f"<p class=amount>{esc(headline)}</p>{open_note}"
        f"<dl><dt>Invoice number</dt><dd>{esc(facts['number'])}</dd>"
        f"<dt>Date of issue</dt><dd>{esc(facts['issued'])}</dd>"
        + (f"<dt>Date paid</dt><dd>{esc(facts['paid_on'])}</dd>" if facts["paid_on"] else "")
        + f"<dt>Billed to</dt><dd>{billed_to or '—'}</dd></dl>"
        "<table><caption class=account>Items</caption><thead><tr><th scope=col>Description</th>"
        "<th scope=col class=num>Qty</th><th scope=col class=num>Amount</th></tr></thead>"
        f"<tbody>{rows}</tbody><tfoot>"
        f"<tr><th scope=row colspan=2>Subtotal</th><td class=num>{esc(facts['subtotal'])}</td></tr>"
        f"<tr><th scope=row colspan=2>Total</th><td class=num>{esc(facts['total'])}</td></tr>"
        f"<tr><th scope=row colspan=2>Amount paid</th>"
        f"<td class=num>{esc(facts['amount_paid'])}</td></tr>"
        f"<tr><th scope=row colspan=2>Amount remaining</th>"
        f"<td class=num>{esc(facts['amount_remaining'])}</td></tr></tfoot></table>"
        # relative: /…/_stripe/invoices/<token> + "<token>/pdf", whatever the prefix before it
        f"<a class=button href='{esc(token)}/pdf' download>Download PDF</a></main>"
    )
    return _page(f"Invoice {facts['number']} — {facts['account']}", body)


def invoice_pdf_bytes(invoice) -> bytes:
    facts = _invoice_facts(invoice)
    T = pdf.Text
    runs = [
        T(50, 740, facts["account"], 12, "bold"),
        T(50, 705, "Invoice", 22, "bold"),
        T(50, 670, "Invoice number"),
        T(170, 670, facts["number"]),
        T(50, 654, "Date of issue"),
        T(170, 654, facts["issued"]),
        T(50, 638, "Status"),
        T(170, 638, facts["status_word"]),
    ]
    y = 622.0
    if facts["paid_on"]:
        runs += [T(50, y, "Date paid"), T(170, y, facts["paid_on"])]
        y -= 16
    runs.append(T(50, y, "Billed to"))
    for value in (facts["customer_name"], facts["customer_email"]):
        if value:
            runs.append(T(170, y, value))
            y -= 16
    y -= 24
    runs += [
        T(50, y, "Description", 10, "bold"),
        T(400, y, "Qty", 10, "bold"),
        T(480, y, "Amount", 10, "bold"),
    ]
    for line in facts["lines"]:
        y -= 18
        runs += [
            T(50, y, str(line["description"])),
            T(400, y, str(line["quantity"])),
            T(480, y, line["amount"]),
        ]
        if line["period"]:
            y -= 13
            runs.append(T(50, y, line["period"], 9))
    y -= 30
    for label, key in (
        ("Subtotal", "subtotal"),
        ("Total", "total"),
        ("Amount paid", "amount_paid"),
        ("Amount remaining", "amount_remaining"),
    ):
        runs += [T(330, y, label), T(480, y, facts[key])]
        y -= 16
    runs.append(
        T(50, 60, "Offline stand-in of Stripe (tools/fakestripe): test mode, no real money.", 8)
    )
    return pdf.document(runs, title=f"Invoice {facts['number']}")


async def invoice_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    invoice = invoices.by_hosted_token(token)
    if invoice is None:
        return _missing("invoice")
    return invoice_html(invoice, token)


async def invoice_pdf(request: web.Request) -> web.Response:
    invoice = invoices.by_hosted_token(request.match_info["token"])
    if invoice is None:
        return _missing("invoice")
    # The number goes into a header: only the characters the stand-in's numbers are made of.
    number = "".join(
        ch
        for ch in str(getattr(invoice, "_fs_number", None) or invoice.id)
        if ch.isalnum() or ch in "-_"
    )
    headers = {
        **HTML_HEADERS,
        "Content-Disposition": f'attachment; filename="Invoice-{number}.pdf"',
    }
    del headers["Content-Security-Policy"]  # a PDF runs nothing; a CSP only hinders viewers
    return web.Response(
        body=invoice_pdf_bytes(invoice), content_type="application/pdf", headers=headers
    )


# -- customer portal ---------------------------------------------------------------------------


def _card_line(pm_id: str | None) -> str:
    pm = R.store.get(f"payment_method:{pm_id}") if pm_id else None
    card = getattr(pm, "card", None)
    if not card:
        return "No payment method on file."
    brand = str(card.get("display_brand") or card.get("brand") or "card").title()
    return (
        f"{brand} •••• {card.get('last4')}, expires "
        f"{int(card.get('exp_month') or 0):02d}/{card.get('exp_year')}"
    )


def _subscription_block(sub) -> tuple[str, str | None]:
    """(HTML of one subscription, the payment method renewals charge)."""
    obj = sub._export()
    item = obj["items"]["data"][0] if obj["items"]["data"] else None
    price = (item or {}).get("price") or {}
    name = _product_name(price.get("product")) or "Subscription"
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or ""
    count = recurring.get("interval_count") or 1
    every = f"every {count} {interval}s" if count > 1 else f"per {interval}"
    period_end = (item or {}).get("current_period_end")
    if obj["status"] in ("canceled", "incomplete_expired"):
        when = f"Ended on {day(obj.get('ended_at'))}"
    elif obj.get("cancel_at"):
        when = f"Cancels on {day(obj['cancel_at'])}"
    elif obj["status"] in ("active", "trialing"):
        when = f"Renews on {day(period_end)}"
    elif obj["status"] == "past_due":
        when = "Payment overdue: update your card in the app"
    else:
        when = "Waiting for the first payment"
    amount = money(price.get("unit_amount"), price.get("currency"))
    html_block = (
        f"<p><strong>{esc(name)}</strong> — {esc(amount)} "
        f"{esc(every)} <span class='badge {esc(obj['status'])}'>"
        f"{esc(obj['status'].replace('_', ' ').capitalize())}</span>"
        f"<br>{esc(when)}</p>"
    )
    return html_block, obj.get("default_payment_method")


def portal_html(session) -> web.Response:
    customer = R.Customer._api_retrieve(session.customer)
    account = _account_name()
    subs = [
        sub
        for sub in R.Subscription._api_list_all(None, customer=customer.id, status="all")._list
        if sub.status not in ("canceled", "incomplete_expired")
    ]
    blocks, charged = [], None
    for sub in subs:
        block, pm_id = _subscription_block(sub)
        blocks.append(block)
        charged = charged or pm_id
    charged = charged or (customer.invoice_settings or {}).get("default_payment_method")
    rows = []
    for invoice in R.Invoice._api_list_all(None, customer=customer.id)._list:
        token = invoices.hosted_token(invoice)
        if token is None:
            continue
        obj = invoice._export()
        rows.append(
            f"<tr><td>{esc(day(obj['created']))}</td>"
            f"<td class=num>{esc(money(obj['total'], obj['currency']))}</td>"
            f"<td><span class='badge {esc(obj['status'])}'>"
            f"{esc(STATUS_WORDS.get(obj['status'], obj['status']))}</span></td>"
            # relative: /…/_stripe/portal/<token> + "../invoices/<token>"
            f"<td><a href='../invoices/{esc(token)}'>Invoice {esc(obj.get('number'))}</a></td>"
            "</tr>"
        )
        if len(rows) == 24:
            break
    back = (
        f"<p><a href='{esc(session.return_url)}'>← Return to {esc(account)}</a></p>"
        if session.return_url
        else ""
    )
    body = (
        f"<main>{back}<p class=account>{esc(account)}</p><h1>Billing</h1>"
        "<h2>Current subscription</h2>"
        + ("".join(blocks) or "<p>No current subscription.</p>")
        + f"<h2>Payment method</h2><p>{esc(_card_line(charged))}</p>"
        f"<h2>Billing information</h2><dl><dt>Name</dt><dd>{esc(customer.name) or '—'}</dd>"
        f"<dt>Email</dt><dd>{esc(customer.email) or '—'}</dd></dl>"
        "<h2>Invoice history</h2>"
        + (
            "<table><thead><tr><th scope=col>Date</th><th scope=col class=num>Amount</th>"
            "<th scope=col>Status</th><th scope=col>Invoice</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else "<p>No invoices yet.</p>"
        )
        + "<p><small>The offline portal is read-only: change the card or the subscription in "
        "the app.</small></p></main>"
    )
    return _page(f"Billing — {account}", body)


async def portal_page(request: web.Request) -> web.Response:
    session = billing_portal.by_token(request.match_info["token"])
    if session is None:
        return _missing("billing portal session")
    if not session._fs_open():
        return _page(
            "Session expired",
            "<main><h1>This link has expired</h1><p>Billing portal links work for a short "
            "while only. Open the billing portal again from the app.</p>"
            + (
                f"<p><a href='{esc(session.return_url)}'>← Return</a></p>"
                if session.return_url
                else ""
            )
            + "</main>",
            status=410,
        )
    return portal_html(session)


def add_routes(router: web.UrlDispatcher) -> None:
    from .hosted import PREFIX

    router.add_get(PREFIX + "/invoices/{token}", invoice_page)
    router.add_get(PREFIX + "/invoices/{token}/pdf", invoice_pdf)
    router.add_get(PREFIX + "/portal/{token}", portal_page)
