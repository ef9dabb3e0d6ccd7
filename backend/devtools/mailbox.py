"""The dev mailbox: what the dev mail server received (a Maildir), as pages and as JSON.

``make run`` and ``make stack`` start an SMTP server on loopback (tools/devstack's
``devstack.mailserver``) that keeps every message in the Maildir ``DEV_MAILBOX_DIR``; the app
sends its e-mails there. This page shows them, newest first, so the e-mails can be read in
development and checked by browser tests:

* ``GET /_dev/mailbox/``: the list (HTML), or with ``?format=json`` / ``Accept:
  application/json`` ``{"messages": [{"id", "to", "from", "subject", "date", "text",
  "html"}...]}`` (``date`` ISO 8601 UTC; ``text``/``html`` the parts, ``""`` if absent);
  ``?to=<address>`` keeps the messages to that address;
* ``GET /_dev/mailbox/<id>/``: one message (HTML, or JSON the same way).

Mounted with the rest of devtools, only when ``DEVTOOLS_ALLOWED``. A message's HTML part is
never rendered in this page: it is shown in a sandboxed ``iframe srcdoc`` (no script, no
same-origin access, no form, no navigation of this page), and this page's own
Content-Security-Policy lets that frame load nothing from anywhere.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import asdict, dataclass
from datetime import UTC
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

#: The newest this many messages are listed (a dev Maildir grows without end).
LIST_LIMIT = 200
#: The page's own policy: styles inline, nothing else; the sandboxed ``srcdoc`` frame (not
#: fetched, so no ``frame-src`` applies to it) inherits it: the mail loads nothing either.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
LINK_RE = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Mail:
    """One message as the page and the JSON show it."""

    id: str
    to: str
    sender: str
    subject: str
    date: str
    text: str
    html: str

    def as_json(self) -> dict[str, str]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data

    @property
    def links(self) -> list[str]:
        """The links of the plain-text part, to follow them from the page."""
        return list(dict.fromkeys(LINK_RE.findall(self.text)))


def mailbox_dir() -> Path:
    return Path(getattr(settings, "DEV_MAILBOX_DIR", "") or Path(settings.VAR_DIR) / "mailbox")


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _iso_date(message: EmailMessage) -> str:
    try:
        when = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError):
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _read(key: str, path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return Mail(
        id=key,
        to=str(message.get("To", "")),
        sender=str(message.get("From", "")),
        subject=str(message.get("Subject", "")),
        date=_iso_date(message),
        text=_part(message, "plain"),
        html=_part(message, "html"),
    )


def _files() -> list[tuple[str, Path]]:
    """``(id, file)`` of every message, newest first (by the time the server stored it).

    A Maildir keeps delivered messages in ``new/`` (and, once a mail client saw them,
    ``cur/`` with ``:2,<flags>`` appended); the name before the colon is the message's key.
    """
    folder = mailbox_dir()
    found = []
    for sub in ("new", "cur"):
        if not (folder / sub).is_dir():
            continue
        for entry in (folder / sub).iterdir():
            if entry.is_file() and not entry.name.startswith("."):
                found.append((entry.stat().st_mtime_ns, entry.name.split(":", 1)[0], entry))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(key, path) for _, key, path in found]


def mailbox_list(*, to: str = "", limit: int = LIST_LIMIT) -> list[Mail]:
    """The messages, newest first; only those addressed to ``to`` when given."""
    mails = []
    for key, path in _files():
        mail = _read(key, path)
        if to and to.lower() not in mail.to.lower():
            continue
        mails.append(mail)
        if len(mails) >= limit:
            break
    return mails


def mailbox_get(message_id: str) -> Mail | None:
    """One message by its id (compared with the ids found: no path is built from it)."""
    for key, path in _files():
        if key == message_id:
            return _read(key, path)
    return None


def _wants_json(request: HttpRequest) -> bool | None:
    """True for JSON, False for HTML, None for an unknown ``format``."""
    asked = request.GET.get("format", "")
    if asked:
        return {"json": True, "html": False}.get(asked)
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _answer(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _not_here() -> HttpResponse | None:
    """A 404 unless the dev tools are allowed (the URLconf mounts this page only then; this
    keeps it shut even if someone routed it elsewhere)."""
    if getattr(settings, "DEVTOOLS_ALLOWED", False):
        return None
    return JsonResponse({"detail": "There is nothing at this address.", "code": "not_found"},
                        status=404)  # fmt: skip


def _bad_format() -> HttpResponse:
    return _answer(
        JsonResponse(
            {"detail": "format must be json or html.", "code": "invalid_format"}, status=400
        )
    )


@never_cache
@require_safe
def mailbox_index(request: HttpRequest) -> HttpResponse:
    """The list of messages, newest first (HTML or JSON)."""
    if (closed := _not_here()) is not None:
        return closed
    wants_json = _wants_json(request)
    if wants_json is None:
        return _bad_format()
    to = request.GET.get("to", "").strip()
    mails = mailbox_list(to=to)
    if wants_json:
        return _answer(JsonResponse({"messages": [mail.as_json() for mail in mails]}))
    context: dict[str, Any] = {"mails": mails, "to": to, "folder": mailbox_dir()}
    context["folder_exists"] = context["folder"].is_dir()
    return _answer(render(request, "devtools/mailbox/index.html", context))


@never_cache
@require_safe
def mailbox_message(request: HttpRequest, message_id: str) -> HttpResponse:
    """One message: its headers, the text part, the HTML part in a sandboxed frame."""
    if (closed := _not_here()) is not None:
        return closed
    wants_json = _wants_json(request)
    if wants_json is None:
        return _bad_format()
    mail = mailbox_get(message_id)
    if mail is None:
        body = {"detail": "No such message in the dev mailbox.", "code": "not_found"}
        return _answer(JsonResponse(body, status=404))
    if wants_json:
        return _answer(JsonResponse(mail.as_json()))
    return _answer(render(request, "devtools/mailbox/message.html", {"mail": mail}))
