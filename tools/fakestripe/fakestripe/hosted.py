"""Where the browser reaches the stand-in's hosted pages (invoice page, invoice PDF, portal).

Stripe serves these pages on its own hosts (``invoice.stripe.com``, ``pay.stripe.com``,
``billing.stripe.com``); the stand-in serves them itself under ``/_stripe/`` and builds the
absolute URLs it hands out (``hosted_invoice_url``, ``invoice_pdf``, a portal session's ``url``)
on a **public base**: the URL under which a browser reaches the stand-in's ``/_stripe/`` —
typically the app's dev proxy (``<app>/_dev``, whose ``/_dev/_stripe/...`` Django forwards here),
because the stand-in itself listens on loopback only. Set it with ``--public-url``, the
``FAKESTRIPE_PUBLIC_URL`` environment variable or ``POST /_config/public_url``; without one the
stand-in's own URL is used (fine for a browser on the same machine).

The URLs are computed when an object is read, so changing the base changes every URL handed
out afterwards (the tokens stay).
"""

from __future__ import annotations

import urllib.parse

#: the path prefix of every hosted page, on the stand-in and on the public base
PREFIX = "/_stripe"
ENV_VAR = "FAKESTRIPE_PUBLIC_URL"

_bases: dict[str, str | None] = {"own": None, "public": None}


def checked_base(url: str) -> str:
    """``url`` without its trailing slash, if it is an absolute http(s) URL that can prefix a
    path (no user info, query or fragment); else ValueError with a sentence."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("The public URL must be an absolute http(s) URL.")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"The public URL must be an absolute http(s) URL, not {url!r}.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(
            "The public URL must not carry user info, a query or a fragment: it prefixes paths."
        )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def checked_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL without user info (a page's link target, such
    as a portal session's ``return_url``); else ValueError."""
    if not isinstance(url, str) or not url.strip() or len(url) > 5000:
        raise ValueError("not an absolute http(s) URL")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError("a URL with user info")
    return url.strip()


def configure(*, own_url: str | None = None, public_url: str | None = None) -> None:
    """At start-up: the stand-in's own URL (the fallback) and the public base, if any."""
    if own_url is not None:
        _bases["own"] = checked_base(own_url)
    _bases["public"] = checked_base(public_url) if public_url else None


def set_public_url(url: str | None) -> str:
    """Change the public base (None or "" goes back to the stand-in's own URL); the base now."""
    _bases["public"] = checked_base(url) if url else None
    return base()


def public_url() -> str | None:
    return _bases["public"]


def base() -> str:
    """The base the hosted URLs are built on: the public one, else the stand-in's own."""
    return _bases["public"] or _bases["own"] or "http://127.0.0.1"


def invoice_url(token: str) -> str:
    return f"{base()}{PREFIX}/invoices/{token}"


def invoice_pdf_url(token: str) -> str:
    return f"{base()}{PREFIX}/invoices/{token}/pdf"


def portal_url(token: str) -> str:
    return f"{base()}{PREFIX}/portal/{token}"
