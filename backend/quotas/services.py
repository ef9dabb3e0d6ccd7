"""Counting data-API requests per caller over a rolling day, shared by every server process.

Rolling-window semantics
------------------------
Time is cut into slices of ``BUCKET_SECONDS`` (10 minutes) aligned on the Unix epoch. A
caller's usage is the number of requests counted in the slices that started less than
``WINDOW_SECONDS`` (24 hours) ago, the current slice included: ``WINDOW_SECONDS /
BUCKET_SECONDS`` (144) slices. So a request counts for between 23 h 50 min and 24 h,
and the allowance comes back gradually, slice by slice, as old slices leave the window
(no midnight reset that would allow a double burst around it).

A request is allowed when the usage *before* it is below the limit; an allowed request is
counted, a refused (429) one is not, so a client that keeps retrying is not locked out
for longer. ``resets_at`` is when the quota next gives room back: if it is used up, the
moment enough old slices leave the window for one more request (``Retry-After`` counts
down to it); otherwise the moment the oldest counted slice leaves; with nothing counted,
the end of the current slice's day.

Storage
-------
With ``settings.REDIS_URL``: one Redis hash per caller (field = slice start, value =
count) updated by a Lua script, so check-and-count is one atomic step and the key
expires by itself. Without Redis: :class:`quotas.models.QuotaBucket` rows, incremented
with ``F()`` inside a transaction (count first, then check, and take the count back
if over the limit, so concurrent processes can never let more through than the limit).
Never per-process memory.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from .models import QuotaBucket

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 24 * 60 * 60
BUCKET_SECONDS = 10 * 60
REDIS_PREFIX = "opensecdata:quota:"


@dataclass(frozen=True)
class QuotaState:
    """Where a caller stands: after counting a request (``quota_consume``) or just reading."""

    key: str
    limit: int | None  # None: unlimited
    used: int
    allowed: bool
    resets_at: datetime
    now: float

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def retry_after(self) -> int:
        """Whole seconds until ``resets_at`` (at least 1)."""
        return max(math.ceil(self.resets_at.timestamp() - self.now), 1)


def quota_consume(*, key: str, limit: int | None, now: float | None = None) -> QuotaState:
    """Count one request of ``key`` if it is within ``limit`` (None: count, never refuse)."""
    return _count(key=key, limit=limit, now=time.time() if now is None else now, consume=True)


def quota_peek(*, key: str, limit: int | None, now: float | None = None) -> QuotaState:
    """Where ``key`` stands, without counting anything."""
    return _count(key=key, limit=limit, now=time.time() if now is None else now, consume=False)


def _count(*, key: str, limit: int | None, now: float, consume: bool) -> QuotaState:
    current = int(now) - int(now) % BUCKET_SECONDS
    oldest = current - WINDOW_SECONDS + BUCKET_SECONDS
    redis_url = getattr(settings, "REDIS_URL", "")
    if redis_url:
        try:
            allowed, buckets = _redis_count(redis_url, key, current, oldest, limit, consume)
        except Exception:
            # Availability over precision: the data API keeps answering while Redis is away.
            logger.exception("Quota counter unavailable (Redis); request not counted.")
            allowed, buckets = True, {}
    else:
        allowed, buckets = _db_count(key, current, oldest, limit, consume)
    used = sum(buckets.values())
    return QuotaState(
        key=key,
        limit=limit,
        used=used,
        allowed=allowed,
        resets_at=_resets_at(buckets, limit, current),
        now=now,
    )


def _resets_at(buckets: dict[int, int], limit: int | None, current: int) -> datetime:
    ordered = sorted((start, count) for start, count in buckets.items() if count > 0)
    if not ordered:
        moment = current + WINDOW_SECONDS
    elif limit is not None and sum(c for _, c in ordered) >= limit:
        remaining = sum(c for _, c in ordered)
        moment = ordered[-1][0] + WINDOW_SECONDS
        for start, count in ordered:
            remaining -= count
            if remaining < limit:
                moment = start + WINDOW_SECONDS
                break
    else:
        moment = ordered[0][0] + WINDOW_SECONDS
    return datetime.fromtimestamp(moment, tz=UTC)


# --- database ---------------------------------------------------------------------------


def _db_count(
    key: str, current: int, oldest: int, limit: int | None, consume: bool
) -> tuple[bool, dict[int, int]]:
    if not consume:
        return True, _db_window(key, oldest)
    with transaction.atomic():
        slot = QuotaBucket.objects.filter(key=key, bucket=current)
        if not slot.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    QuotaBucket.objects.create(key=key, bucket=current, count=1)
            except IntegrityError:  # another process created it first
                slot.update(count=F("count") + 1)
            # A new slice is a good moment to drop slices that left everyone's window.
            QuotaBucket.objects.filter(bucket__lt=oldest).delete()
        buckets = _db_window(key, oldest)
        if limit is not None and sum(buckets.values()) > limit:
            slot.update(count=F("count") - 1)
            buckets[current] -= 1
            return False, buckets
    return True, buckets


def _db_window(key: str, oldest: int) -> dict[int, int]:
    rows = QuotaBucket.objects.filter(key=key, bucket__gte=oldest).values_list("bucket", "count")
    return dict(rows)


# --- Redis ------------------------------------------------------------------------------

# KEYS[1] hash of slices; ARGV: current slice, oldest slice in window, limit (-1 none),
# ttl seconds, consume (1/0). Returns {allowed, field, count, field, count, ...}.
_LUA = """
local key = KEYS[1]
local current = tonumber(ARGV[1])
local oldest = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local consume = tonumber(ARGV[5])
local flat = redis.call('HGETALL', key)
local used = 0
for i = 1, #flat, 2 do
  if tonumber(flat[i]) < oldest then
    redis.call('HDEL', key, flat[i])
  else
    used = used + tonumber(flat[i + 1])
  end
end
local allowed = 1
if consume == 1 then
  if limit >= 0 and used >= limit then
    allowed = 0
  else
    redis.call('HINCRBY', key, ARGV[1], 1)
    redis.call('EXPIRE', key, ttl)
  end
end
local result = {allowed}
flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  if tonumber(flat[i]) >= oldest then
    table.insert(result, flat[i])
    table.insert(result, flat[i + 1])
  end
end
return result
"""


@lru_cache(maxsize=4)
def _redis_script(url: str):  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return client.register_script(_LUA)


def _redis_count(
    url: str, key: str, current: int, oldest: int, limit: int | None, consume: bool
) -> tuple[bool, dict[int, int]]:
    reply = _redis_script(url)(
        keys=[REDIS_PREFIX + key],
        args=[current, oldest, -1 if limit is None else limit, WINDOW_SECONDS, int(consume)],
    )
    allowed = bool(int(reply[0]))
    pairs = reply[1:]
    buckets = {int(pairs[i]): int(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    return allowed, buckets
