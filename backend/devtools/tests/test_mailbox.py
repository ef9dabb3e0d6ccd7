"""The dev mailbox page (devtools/mailbox.py): what the dev mail server received, as HTML and
as JSON. The mails reach a real SMTP server (the ``mail_server`` fixture, aiosmtpd) through
Django's SMTP backend, and the page reads that server's Maildir."""

from __future__ import annotations

import importlib
import shutil
import struct
import subprocess
import time
import zlib
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import Client, override_settings
from django.urls import clear_url_caches

import config.urls

URL = "/_dev/mailbox/"


def mail(to: str, subject: str, text: str, html: str | None = None) -> None:
    message = EmailMultiAlternatives(subject, text, "Open SEC Data <billing@localhost>", [to])
    if html is not None:
        message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
    time.sleep(0.01)  # distinct delivery times: the page orders by them


@pytest.fixture
def two_mails(mail_server: Any) -> Any:
    mail("ann@example.com", "First", "Hello Ann\nhttp://127.0.0.1:8000/account\n", "<p>Hi</p>")
    mail("bob@example.com", "Second <b>bold</b>", "Hello Bob", None)
    return mail_server


def test_json_lists_the_messages_newest_first(client: Client, two_mails: Any) -> None:
    answer = client.get(URL, {"format": "json"})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    messages = answer.json()["messages"]
    assert [m["subject"] for m in messages] == ["Second <b>bold</b>", "First"]
    bob, ann = messages
    assert set(ann) == {"id", "to", "from", "subject", "date", "text", "html"}
    assert ann["to"] == "ann@example.com"
    assert ann["from"] == "Open SEC Data <billing@localhost>"
    assert ann["text"] == "Hello Ann\nhttp://127.0.0.1:8000/account\n"
    assert ann["html"].rstrip("\n") == "<p>Hi</p>"
    assert ann["date"].endswith("Z") and ann["date"][:4].isdigit()
    assert bob["html"] == ""
    # Accept: application/json says the same; ?to= keeps one recipient's.
    assert client.get(URL, HTTP_ACCEPT="application/json").json()["messages"] == messages
    only_ann = client.get(URL, {"format": "json", "to": "ANN@example.com"}).json()["messages"]
    assert [m["id"] for m in only_ann] == [ann["id"]]
    one = client.get(f"{URL}{ann['id']}/", {"format": "json"})
    assert one.status_code == 200 and one.json() == ann


def test_the_html_pages_escape_and_sandbox_what_the_mails_contain(
    client: Client, mail_server: Any
) -> None:
    mail(
        "eve@example.com",
        "<script>alert('subject')</script>",
        "see https://example.com/x?a=1&b=2",
        "<p>Dear Eve</p><script>alert('body')</script><form action='https://evil'></form>",
    )
    page = client.get(URL)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    text = page.content.decode()
    assert "&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt;" in text
    assert "<script>" not in text
    csp = page["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script at all
    [entry] = client.get(URL, {"format": "json"}).json()["messages"]

    page = client.get(f"{URL}{entry['id']}/")
    body = page.content.decode()
    assert page.status_code == 200 and "<script>" not in body
    # The HTML part is only ever inside a sandboxed frame's srcdoc, escaped as an attribute.
    assert '<iframe title="The HTML part of the message" sandbox="" srcdoc="' in body
    assert "&lt;p&gt;Dear Eve&lt;/p&gt;&lt;script&gt;" in body
    assert "<form" not in body
    assert 'href="https://example.com/x?a=1&amp;b=2"' in body  # the text's link, to follow
    assert page["Content-Security-Policy"] == csp


def test_bad_input_gets_a_sentence(client: Client, mail_server: Any) -> None:
    answer = client.get(URL, {"format": "xml"})
    assert answer.status_code == 400
    assert answer.json() == {"detail": "format must be json or html.", "code": "invalid_format"}
    missing = client.get(f"{URL}1796083200.M1P1Q1.nowhere/")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No such message in the dev mailbox."
    assert client.get(f"{URL}..%2F..%2Fetc%2Fpasswd/").status_code == 404
    assert client.post(URL).status_code == 405
    assert client.head(URL).status_code == 200


def test_an_empty_or_missing_maildir_is_an_empty_list(client: Client, tmp_path: Any) -> None:
    with override_settings(DEV_MAILBOX_DIR=str(tmp_path / "nothing-here")):
        assert client.get(URL, {"format": "json"}).json() == {"messages": []}
        page = client.get(URL).content.decode()
    assert "does not exist yet" in page and "No messages" in page


def test_only_where_the_dev_tools_are_allowed(client: Client, mail_server: Any) -> None:
    with override_settings(DEVTOOLS_ALLOWED=False):
        # The view itself refuses...
        assert client.get(URL, {"format": "json"}).status_code == 404
        # ...and the URLconf production builds has no /_dev/ at all.
        try:
            patterns = [str(p.pattern) for p in importlib.reload(config.urls).urlpatterns]
        finally:
            clear_url_caches()
    importlib.reload(config.urls)
    clear_url_caches()
    assert "_dev/" not in patterns and "api/" in patterns
    assert client.get(URL, {"format": "json"}).status_code == 200


# --- In a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def png_pixels(data: bytes) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 3
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, previous, colours = zlib.decompress(idat), width * channels, None, set()
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        above = previous or bytearray(stride)
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = above[x], above[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (
                    line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 0xFF
        colours.update(tuple(line[i : i + 3]) for i in range(0, stride, channels))
        previous = line
    return colours


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_shows_the_html_part_and_runs_none_of_its_scripts(
    live_server: Any, mail_server: Any, tmp_path: Any
) -> None:
    """The page's policy lets the sandboxed frame show the mail, and the sandbox keeps the
    mail's script from running. Headless Chromium sometimes takes its screenshot before the
    srcdoc frame is painted (seen with any policy), so it gets a few tries to show it."""
    mail(
        "ann@example.com",
        "Green",
        "text",
        '<body style="margin:0;background:#00ff00"><p>Hi</p>'
        "<script>document.body.style.background='#ff0000'</script></body>",
    )
    [entry] = Client().get(URL, {"format": "json"}).json()["messages"]
    shown = False
    for attempt in range(5):
        shot = tmp_path / f"page{attempt}.png"
        subprocess.run(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=900,1200", f"--screenshot={shot}",
             f"{live_server.url}{URL}{entry['id']}/"],
            capture_output=True, timeout=90, check=True,
        )  # fmt: skip
        colours = png_pixels(shot.read_bytes())
        assert (255, 0, 0) not in colours  # the mail's script never ran
        if (0, 255, 0) in colours:  # the mail's own background: the frame shows it
            shown = True
            break
    assert shown
