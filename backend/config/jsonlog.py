"""One JSON object per log line, with secrets taken out (production, gunicorn, Celery).

Used by ``config.settings.production`` (``LOGGING``) and ``config/gunicorn.py``. Three
layers keep credentials out of the logs, whatever a log call passes:

* the **values** of the secret settings in the environment (``DJANGO_SECRET_KEY``,
  ``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET``, ``JWT_SIGNING_KEY``, the LinkedIn secret,
  ``EMAIL_HOST_PASSWORD``, passwords inside ``DATABASE_URL``/``REDIS_URL``...) are replaced
  wherever they appear;
* **shapes** of credentials: Stripe secret/restricted keys and webhook secrets, PaymentIntent
  client secrets, ``Stripe-Signature`` MACs, JWTs, ``Bearer`` tokens, cookie values of the
  session and CSRF cookies, passwords in URLs;
* **fields** whose name says secret (``password``, ``token``, ``cookie``, ``authorization``...)
  have their value replaced, and a request object is logged as method and path only (never
  its query string, headers or cookies).
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

REDACTED = "[redacted]"

# Environment variables whose values are secrets wherever they turn up.
SECRET_ENV_NAMES = (
    "DJANGO_SECRET_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "JWT_SIGNING_KEY",
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET",
    "EMAIL_HOST_PASSWORD",
)
# URLs whose password part is a secret.
SECRET_URL_ENV_NAMES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")

_PATTERNS = [
    # Stripe secret and restricted keys, webhook signing secrets.
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"), REDACTED),
    # PaymentIntent / SetupIntent client secrets: pi_..._secret_...
    (re.compile(r"\b((?:pi|seti)_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+"), r"\1_secret_" + REDACTED),
    # Stripe-Signature: t=...,v1=<hex>
    (re.compile(r"\b(v[01])=[0-9a-fA-F]{16,}"), r"\1=" + REDACTED),
    # JSON Web Tokens (header.payload.signature, base64url).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Authorization headers.
    (
        re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
        r"\1 " + REDACTED,
    ),
    # Cookie values of the session and CSRF cookies (and anything named *session*/*token*).
    (
        re.compile(
            r"\b(sessionid|csrftoken|csrfmiddlewaretoken|[A-Za-z_]*session[A-Za-z_]*|"
            r"[A-Za-z_]*token)=([^;&\s\"']+)",
            re.IGNORECASE,
        ),
        r"\1=" + REDACTED,
    ),
    # Query parameters that carry credentials (sign-in codes, state, keys).
    (
        re.compile(
            r"([?&](?:code|state|key|secret|client_secret|password|access_token|refresh)=)"
            r"[^&\s\"']+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    # user:password@host in URLs.
    (
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@", re.IGNORECASE),
        r"\1:" + REDACTED + "@",
    ),
]

_SECRET_FIELD = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|signature|session|"
    r"credential|private",
    re.IGNORECASE,
)

# Attributes every LogRecord has; anything else was passed through `extra=`.
_RECORD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _env_secrets() -> list[str]:
    values = []
    for name in SECRET_ENV_NAMES:
        for value in os.environ.get(name, "").split(","):  # rotations: comma-separated
            if len(value.strip()) >= 8:
                values.append(value.strip())
    for name in SECRET_URL_ENV_NAMES:
        password = urlsplit(os.environ.get(name, "")).password
        if password and len(password) >= 4:
            values.append(password)
    # Longest first, so a secret that contains another is replaced whole.
    return sorted(set(values), key=len, reverse=True)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with known secret values and credential-shaped substrings replaced."""
    for value in _env_secrets() if secrets is None else secrets:
        text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, secrets: list[str], key: str = "") -> Any:
    """A JSON-safe copy of ``value`` with secrets replaced (recursing into containers)."""
    if key and _SECRET_FIELD.search(key):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {str(k): redact(v, secrets, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, secrets) for v in value]
    if hasattr(value, "method") and hasattr(value, "path") and hasattr(value, "META"):
        # A Django request: method and path only (no query string, headers or cookies).
        return {"method": value.method, "path": value.path}
    return redact_text(repr(value), secrets)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra, "exception"}``, redacted, one line."""

    def __init__(self, *args: Any, static_fields: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.static_fields = dict(static_fields or {})
        # Read once: the environment of a server process does not change.
        self.secrets = _env_secrets()

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            **self.static_fields,
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(redact(entry, self.secrets), ensure_ascii=False, default=str)
