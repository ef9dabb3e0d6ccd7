"""Per-request context (request id, idempotency key) read by events' ``request`` field."""

from __future__ import annotations

import contextvars
import secrets

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
idempotency_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "idempotency_key", default=None
)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(7)
