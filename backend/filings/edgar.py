"""EDGAR over HTTP, politely: the declared User-Agent, the shared rate limit, the backoff.

The SEC's fair-access rules (https://www.sec.gov/os/accessing-edgar-data): a User-Agent that
names the requester with a contact, and no more than 10 requests per second. The limit holds
across every process that fetches (the command and all Celery workers on all machines): each
request first reserves the next free 1/rate slot in Redis with one atomic Lua script and
sleeps until it. Without Redis (``make run``'s filesystem broker) each process keeps the
rate by itself, so N worker processes may reach N times the rate.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import redis
import requests
from django.conf import settings
from redis.commands.core import Script

#: Hosts of the real archive: fetching from them needs a contact User-Agent.
SEC_HOSTS = ("sec.gov", "www.sec.gov")
FORMS_13F = ("13F-HR", "13F-HR/A")
#: The fair-access limit, for all of a requester's clients together.
SEC_MAX_REQUESTS_PER_SECOND = 10.0
#: The Redis key of the next free request slot (microseconds, Redis' clock).
SLOT_KEY = "filings:edgar:next-slot-us"
# Reserve the next slot at least ``interval`` (microseconds: whole milliseconds would round
# any rate above 1,000/s to no limit) after the previous one and answer how long to wait for
# it. Redis' own clock, so every machine agrees. Microseconds since 1970 stay exact in Lua's
# doubles (< 2^53); %d keeps tostring's 14 digits from rounding them.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], string.format('%d', slot + tonumber(ARGV[1])), 'PX', 60000)
return slot - now
"""
#: Slots are this much wider than 1/rate: a request that leaves its slot a few milliseconds
#: late must not let the next one make 11 in a second.
SLOT_MARGIN = 1.05


class EdgarError(Exception):
    """EDGAR did not give us the document (the message says why; ``status`` is the HTTP
    status that ended it, 0 when the connection failed)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class EdgarNotAllowed(EdgarError):
    """Fetching from the SEC without a contact User-Agent: the fair-access rules forbid it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=0)


@dataclass(frozen=True)
class IndexEntry:
    cik: int
    company_name: str
    form_type: str
    date_filed: date
    path: str  # edgar/data/<cik>/<accession>.txt

    @property
    def accession_number(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".txt")


def quarter_parse(text: str) -> tuple[int, int]:
    """``"2020Q1"`` -> ``(2020, 1)``; ValueError with a sentence otherwise."""
    value = text.strip().upper()
    year, sep, q = value.partition("Q")
    if not (sep and year.isdigit() and len(year) == 4 and q in ("1", "2", "3", "4")):
        raise ValueError(f"{text!r} is not a quarter like 2020Q1.")
    if int(year) < 1993:
        raise ValueError(f"EDGAR's full index starts in 1993, not {year}.")
    return int(year), int(q)


def master_index_path(*, year: int, quarter: int) -> str:
    return f"edgar/full-index/{year}/QTR{quarter}/master.idx"


def master_index_parse(*, text: str) -> list[IndexEntry]:
    """The 13F-HR and 13F-HR/A lines of a ``master.idx`` (other forms and the header dropped)."""
    entries = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != 5 or parts[2] not in FORMS_13F or not parts[0].isdigit():
            continue
        cik, name, form, filed, path = parts
        try:
            filed_on = date.fromisoformat(filed)
        except ValueError:
            continue
        entries.append(IndexEntry(int(cik), name.strip(), form, filed_on, path.strip()))
    return entries


def is_sec_archive(base_url: str) -> bool:
    """Whether ``base_url`` is the SEC's own archive (its rules apply), not a stand-in."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host in SEC_HOSTS or host.endswith(".sec.gov")


def requests_per_second() -> float:
    """``EDGAR_MAX_REQUESTS_PER_SECOND``, but never more than the SEC's 10 against the SEC:
    a higher setting is for a stand-in or a mirror (the benchmark's 2,000/s)."""
    rate = float(settings.EDGAR_MAX_REQUESTS_PER_SECOND)
    if is_sec_archive(settings.EDGAR_BASE_URL):
        rate = min(rate, SEC_MAX_REQUESTS_PER_SECOND)
    return rate


def user_agent_check() -> str:
    """The User-Agent to send; raises :class:`EdgarNotAllowed` for the real archive without
    a contact (an e-mail address) in ``EDGAR_USER_AGENT``."""
    agent = settings.EDGAR_USER_AGENT.strip()
    if is_sec_archive(settings.EDGAR_BASE_URL) and "@" not in agent:
        raise EdgarNotAllowed(
            "The SEC's fair-access rules require a User-Agent naming you and a contact: "
            'set EDGAR_USER_AGENT, e.g. "Open SEC Data admin@example.com", '
            f"before fetching from {settings.EDGAR_BASE_URL}."
        )
    return agent or "Open SEC Data (offline stand-in)"


class _LocalSlots:
    """The per-process limiter, when no Redis is configured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def wait_seconds(self, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + interval
            return slot - now


_local_slots = _LocalSlots()
_scripts: dict[str, Script] = {}
_session = threading.local()


def slot_wait() -> float:
    """Reserve the next request slot (shared in Redis when configured) and sleep until it;
    returns the seconds slept."""
    interval = SLOT_MARGIN / requests_per_second()
    url = settings.EDGAR_REDIS_URL
    if url:
        reserve = _scripts.get(url)
        if reserve is None:
            # EVALSHA of the loaded script: the script is not sent with every request.
            reserve = _scripts[url] = redis.Redis.from_url(url).register_script(_RESERVE)
        wait = int(reserve(keys=[SLOT_KEY], args=[round(interval * 1e6)])) / 1e6
    else:
        wait = _local_slots.wait_seconds(interval)
    if wait > 0:
        time.sleep(wait)
    return wait


def _session_for(base_url: str) -> requests.Session:
    """This thread's HTTP session for ``base_url``: one keep-alive connection reused by every
    request. The environment (proxy variables, ``no_proxy``, CA bundle) is read once here,
    not on each request as requests does by default (a third of a request's own CPU)."""
    sessions: dict[str, requests.Session] = _session.__dict__.setdefault("by_base", {})
    session = sessions.get(base_url)
    if session is None:
        session = sessions[base_url] = requests.Session()
        session.proxies.update(requests.utils.get_environ_proxies(base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        session.trust_env = False
    return session


def edgar_get(*, path: str) -> bytes:
    """GET ``EDGAR_BASE_URL/path`` within the rate limit, backing off on 429/503.

    Raises :class:`EdgarNotAllowed` (no contact for the real archive) or :class:`EdgarError`
    (404, or still throttled after ``EDGAR_MAX_RETRIES`` retries).
    """
    agent = user_agent_check()
    url = settings.EDGAR_BASE_URL.rstrip("/") + "/" + path.lstrip("/")
    session = _session_for(settings.EDGAR_BASE_URL)
    delay = settings.EDGAR_BACKOFF_SECONDS
    for attempt in range(settings.EDGAR_MAX_RETRIES + 1):
        slot_wait()
        try:
            answer = session.get(url, headers={"User-Agent": agent}, timeout=30)
        except requests.RequestException as exc:
            status, retry_after = 0, None
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if answer.status_code == 200:
                return answer.content
            status, retry_after = answer.status_code, answer.headers.get("Retry-After")
            problem = f"HTTP {status}"
            if status not in (429, 500, 502, 503, 504):
                raise EdgarError(f"{url} answered {problem}.", status=status)
        if attempt == settings.EDGAR_MAX_RETRIES:
            break
        # Throttled or unavailable: wait longer each time; EDGAR's Retry-After when longer.
        wait = delay * 2**attempt
        if retry_after and retry_after.isdigit():
            wait = max(wait, min(float(retry_after), 600.0))
        time.sleep(wait)
    raise EdgarError(
        f"{url} still answered {problem} after {settings.EDGAR_MAX_RETRIES} retries.",
        status=status,
    )
