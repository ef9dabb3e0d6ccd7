"""How often a caller may make the billing endpoints call Stripe, and the card-testing brake.

Every endpoint that calls Stripe is limited, so one account (or one address) cannot spend the
account-wide Stripe rate limit or hold every gunicorn worker in Stripe calls:

* purchases: per user (``BILLING_RATE_PURCHASE_USER``) and per client IP
  (``BILLING_RATE_PURCHASE_IP``, the address :func:`quotas.client_ip.client_network` sees,
  so a card tester with many accounts behind one address is slowed too);
* sync, cancel and resume: one shared per-user budget (``BILLING_RATE_STRIPE_CALLS_USER``);
* the declined-card brake: after ``BILLING_DECLINE_BRAKE_LIMIT`` declined cards site-wide
  within ``BILLING_DECLINE_BRAKE_MINUTES``, charging a card on the server
  (``payment_method_id``) pauses for everyone until the window has room again. The browser
  flow (Stripe.js confirms the card with Stripe) is not paused: the server sees no card there.

Over a limit the answer is 429 with ``Retry-After`` and the usual JSON body
(``config.exceptions``): ``throttled``, or ``purchases_paused`` for the brake. Counters live in
the default cache (Redis in production), shared by every process.

**While that cache is unreachable** (Redis down) the answer depends on what the limit guards:

* the Stripe-call budgets (sync, cancel, resume, the account page's reads, setup intents,
  paying an open invoice with the card on file, the portal) **fail open**: the request goes
  ahead uncounted, one warning logged per request. They spare Stripe's account-wide rate
  limit, which Stripe enforces itself (a 429 there is our 503 ``stripe_unavailable``), and
  none of them lets a caller try a new card.
* a purchase and a card change (the purchase limits and the declined-card brake) answer
  **503** ``rate_limit_unavailable`` with a sentence, before Stripe is called: they are the
  card-testing brake, and a brake that lets every request through exactly while it cannot
  count is what a card tester would wait for. Buying resumes when Redis is back.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from quotas.client_ip import client_network

logger = logging.getLogger(__name__)

DECLINES_KEY = "billing:declines:{minute}"
#: What the cache raises when Redis cannot be reached or does not answer in time.
CACHE_DOWN: tuple[type[BaseException], ...] = (redis.RedisError, ConnectionError, TimeoutError)


class RateLimitUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "rate_limit_unavailable"
    default_detail = (
        "Purchases and card changes are paused for a moment: the rate limits that protect "
        "them cannot be checked right now. Please try again in a minute."
    )


def _cache_down_warn(request: Request, exc: BaseException) -> None:
    """Log the cache outage once per request (a view may have several throttles)."""
    if getattr(request, "_billing_cache_down_logged", False):
        return
    request._billing_cache_down_logged = True  # type: ignore[attr-defined]
    logger.warning("Billing rate limits not checked, the cache is down (%s: %s)",
                   type(exc).__name__, exc)  # fmt: skip


class _FailOpen:
    """The cache down: the request goes ahead uncounted (see the module docstring)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except CACHE_DOWN as exc:
            _cache_down_warn(request, exc)
            return True


class _FailClosed:
    """The cache down: 503 ``rate_limit_unavailable`` (money paths; see the module docstring)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except CACHE_DOWN as exc:
            _cache_down_warn(request, exc)
            raise RateLimitUnavailable() from exc


class _RateFromSettings:
    """The rate is read from settings on every request (so it can be tuned per deployment)."""

    setting = ""

    def get_rate(self) -> str:
        return str(getattr(settings, self.setting))


class PurchaseUserThrottle(_FailClosed, _RateFromSettings, UserRateThrottle):
    """A person buying needs a handful of attempts, not hundreds."""

    scope = "purchase"
    setting = "BILLING_RATE_PURCHASE_USER"


class PurchaseIPThrottle(_FailClosed, _RateFromSettings, SimpleRateThrottle):
    """Purchases per client address, whoever is signed in: card testers rotate accounts."""

    scope = "purchase_ip"
    setting = "BILLING_RATE_PURCHASE_IP"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_network(request)}


class StripeCallThrottle(_FailOpen, _RateFromSettings, UserRateThrottle):
    """One budget per user for the other endpoints that call Stripe (sync, cancel, resume)."""

    scope = "stripe_calls"
    setting = "BILLING_RATE_STRIPE_CALLS_USER"


class PurchasesPaused(exceptions.Throttled):
    default_code = "purchases_paused"

    def __init__(self, wait: float) -> None:
        minutes = max(1, round(wait / 60))
        super().__init__(
            wait=wait,
            detail=(
                "Many cards were declined on this site in the last minutes, so paying by card "
                f"through the API is paused. Try again in about {minutes} minute(s), or buy "
                "Premium on the website."
            ),
        )


class DeclineBrake(_FailClosed, BaseThrottle):
    """Refuses server-side card purchases while too many cards were declined site-wide."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        data = request.data if isinstance(request.data, dict) else {}
        if not data.get("payment_method_id"):
            return True
        wait = decline_brake_wait()
        if wait:
            raise PurchasesPaused(wait)
        return True


# --- The declined-card counter ------------------------------------------------------------
# One cache entry per minute; the window is the sum of the last BILLING_DECLINE_BRAKE_MINUTES.


def _minutes() -> int:
    return max(1, int(settings.BILLING_DECLINE_BRAKE_MINUTES))


def decline_record() -> None:
    """Count one declined card (a 402 of a purchase) in the site-wide window."""
    minute = int(time.time() // 60)
    key = DECLINES_KEY.format(minute=minute)
    try:
        cache.add(key, 0, timeout=(_minutes() + 1) * 60)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: start it again
            cache.set(key, 1, timeout=(_minutes() + 1) * 60)
    except CACHE_DOWN as exc:
        # Redis went away after the brake let this purchase in: the caller still gets its
        # 402 (the decline), not a 500; the next purchase meets the 503 of the brake.
        logger.warning("Declined card not counted, the cache is down (%s: %s)",
                       type(exc).__name__, exc)  # fmt: skip


def _window(now: float) -> list[tuple[int, int]]:
    """``(minute, declines)`` of the window ending now, oldest first."""
    current = int(now // 60)
    minutes = list(range(current - _minutes() + 1, current + 1))
    counts: dict[str, Any] = cache.get_many([DECLINES_KEY.format(minute=m) for m in minutes])
    return [(m, int(counts.get(DECLINES_KEY.format(minute=m)) or 0)) for m in minutes]


def declines_recent() -> int:
    """Declined cards site-wide within the brake's window."""
    return sum(count for _, count in _window(time.time()))


def decline_brake_wait() -> float:
    """Seconds until the brake releases; 0 when card purchases may go ahead."""
    now = time.time()
    window = _window(now)
    total = sum(count for _, count in window)
    limit = int(settings.BILLING_DECLINE_BRAKE_LIMIT)
    if total < limit:
        return 0.0
    for minute, count in window:  # oldest first: when does enough of it leave the window?
        total -= count
        if total < limit:
            return max(1.0, (minute + _minutes()) * 60 - now)
    return float(_minutes() * 60)
