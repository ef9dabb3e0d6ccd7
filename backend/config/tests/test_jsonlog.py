"""config.jsonlog: one JSON object a line, no secret in it whatever a log call passes."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from django.test import RequestFactory

from config.jsonlog import JsonFormatter, redact_text
from config.tests.keys import stripe_key

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwidXNlcl9pZCI6NDJ9."
    "c2lnbmF0dXJlLXZhbHVlLWhlcmU"
)


def line(record_args: dict) -> dict:
    record = logging.LogRecord(
        name=record_args.get("name", "billing.webhooks"),
        level=record_args.get("level", logging.INFO),
        pathname=__file__,
        lineno=1,
        msg=record_args["msg"],
        args=record_args.get("args", ()),
        exc_info=record_args.get("exc_info"),
    )
    for key, value in record_args.get("extra", {}).items():
        setattr(record, key, value)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    return json.loads(text)


def test_a_line_is_json_with_the_usual_fields() -> None:
    entry = line({"msg": "stored event %s", "args": ("evt_123",), "extra": {"status_code": 200}})
    assert entry["message"] == "stored event evt_123"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "billing.webhooks"
    assert entry["status_code"] == 200
    assert entry["time"].endswith("+00:00")


@pytest.mark.parametrize(
    "secret",
    [
        stripe_key("sk", "live", "51H8abcdefghijklmnopqrstu"),
        stripe_key("sk", "test", "51H8abcdefghijklmnopqrstu"),
        stripe_key("rk", "live", "51H8abcdefghijklmnopqrstu"),
        "whsec_abcdefghijklmnopqrstuvwx12",
        JWT,
    ],
)
def test_credential_shapes_are_redacted(secret: str) -> None:
    entry = line({"msg": "calling with %s", "args": (secret,)})
    assert secret not in json.dumps(entry)
    assert "[redacted]" in entry["message"]


def test_headers_cookies_and_client_secrets_are_redacted() -> None:
    text = (
        "Authorization: Bearer abcdefghijklmnop123 Cookie: sessionid=s3ss10nvalue; "
        "csrftoken=tok3nvalue123 Stripe-Signature: t=1700000000,v1="
        + "a" * 64
        + " pi_3Nabc_secret_XYZ987 postgres://user:hunter2pass@db:5432/x"
        + ' "GET /auth/complete/linkedin-openidconnect/?code=C0deValue9&state=St4teValue HTTP/1.1"'
    )
    redacted = redact_text(text, secrets=[])
    for leaked in (
        "abcdefghijklmnop123",
        "s3ss10nvalue",
        "tok3nvalue123",
        "a" * 64,
        "XYZ987",
        "hunter2pass",
        "C0deValue9",
        "St4teValue",
    ):
        assert leaked not in redacted, leaked
    assert "pi_3Nabc_secret_[redacted]" in redacted
    assert "t=1700000000" in redacted  # the timestamp is not a secret


def test_values_of_secret_settings_are_redacted_wherever_they_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "plain-words-secret-key-without-a-shape")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "old-rotating-secret-1,new-rotating-secret-2")
    monkeypatch.setenv("DATABASE_URL", "postgres://app:Pa55w0rd!@db:5432/opensecdata")
    entry = line(
        {
            "msg": "config %s %s %s",
            "args": (
                "plain-words-secret-key-without-a-shape",
                "new-rotating-secret-2",
                "Pa55w0rd!",
            ),
        }
    )
    text = json.dumps(entry)
    for leaked in ("plain-words-secret-key", "new-rotating-secret-2", "Pa55w0rd!"):
        assert leaked not in text


def test_fields_named_like_secrets_and_requests_are_cut_down() -> None:
    request = RequestFactory().get(
        "/auth/complete/linkedin-openidconnect/?code=abc123code&state=xyz",
        HTTP_COOKIE="sessionid=zzz",
        HTTP_AUTHORIZATION="Bearer qqqqqqqqqqqqqqqqqq",
    )
    entry = line(
        {
            "msg": "Internal Server Error: %s",
            "args": ("/auth/complete/",),
            "level": logging.ERROR,
            "extra": {
                "request": request,
                "password": "hunter2",
                "headers": {"Cookie": "sessionid=zzz", "Accept": "application/json"},
                "access_token": "opaque-token-value",
            },
        }
    )
    assert entry["request"] == {"method": "GET", "path": "/auth/complete/linkedin-openidconnect/"}
    assert entry["password"] == "[redacted]"
    assert entry["access_token"] == "[redacted]"
    assert entry["headers"] == {"Cookie": "[redacted]", "Accept": "application/json"}
    text = json.dumps(entry)
    for leaked in ("abc123code", "zzz", "qqqq", "hunter2", "opaque-token-value"):
        assert leaked not in text


def test_exceptions_are_one_field_and_redacted() -> None:
    try:
        raise ValueError(
            "Invalid API Key provided: " + stripe_key("sk", "live", "51H8abcdefghijklmnopqrstu")
        )
    except ValueError:
        exc_info = sys.exc_info()
    entry = line({"msg": "Stripe call failed", "level": logging.ERROR, "exc_info": exc_info})
    assert "Traceback" in entry["exception"]
    assert "ValueError" in entry["exception"]
    assert stripe_key("sk", "live", "51H8") not in entry["exception"]


def test_a_broken_format_string_still_gives_a_line() -> None:
    entry = line({"msg": "two %s %s", "args": ("only-one",)})
    assert "two %s %s" in entry["message"]
