"""Stripe's webhook signature, made the way Stripe makes it.

The stand-in signs its deliveries with it, and tests, the stack's smoke checks and the
benchmark use it to post events of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """``t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>`` for these exact bytes."""
    body = payload.encode() if isinstance(payload, str) else payload
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), b"%d." % ts + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"
