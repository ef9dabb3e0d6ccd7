"""What reaches the app from outside during a scenario: Stripe's signed deliveries (retried
the way Stripe retries) and buyers using the API (retrying the way a person clicks again).

Both run on a thread of their own while the scenario breaks things, and record every answer.
Plain HTTP/1.1 over loopback, one connection per request, through NGINX.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fakestripe.signing import sign

#: Seconds between Stripe's attempts of one delivery after a non-2xx answer or no answer
#: (Stripe's real schedule stretches over three days; this one over ~5 minutes).
STRIPE_RETRIES = (1, 2, 4, 8, 15, 30, 30, 30, 30, 30, 30, 30, 30)
#: A buyer whose purchase failed with a 5xx or no answer tries again after these seconds.
BUYER_RETRIES = (1, 2, 4, 8, 15, 30, 30)
REQUEST_TIMEOUT = 30.0


@dataclass
class Delivery:
    """One delivery of one event (a duplicate is a delivery of its own) and its answers."""

    event_id: str
    body: bytes
    answers: list[int | str] = field(default_factory=list)
    #: The JSON body of the first 5xx answer (what the receiver said while it could not store).
    error_body: Any = None

    @property
    def acknowledged(self) -> bool:
        return any(isinstance(a, int) and 200 <= a < 300 for a in self.answers)

    @property
    def failed_attempts(self) -> int:
        return sum(1 for a in self.answers if not (isinstance(a, int) and 200 <= a < 300))


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        answer = await reader.read()
    finally:
        writer.close()
    if not answer.startswith(b"HTTP/1."):
        raise ConnectionError("no HTTP answer")
    return int(answer[9:12]), answer.partition(b"\r\n\r\n")[2]


async def _deliver(url: str, secret: str, delivery: Delivery, due: float, deadline: float) -> None:
    await asyncio.sleep(max(0.0, due - time.monotonic()))
    for wait in (0, *STRIPE_RETRIES):
        await asyncio.sleep(wait)
        if time.monotonic() > deadline:
            return
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            # Signed at each attempt, as Stripe does (the timestamp is the send time).
            "Stripe-Signature": sign(delivery.body, secret),
        }
        try:
            status, body = await asyncio.wait_for(
                _post(url, delivery.body, headers), REQUEST_TIMEOUT
            )
        except (OSError, TimeoutError, ValueError) as exc:
            delivery.answers.append(exc.__class__.__name__)
            continue
        delivery.answers.append(status)
        if 200 <= status < 300:
            return
        if status >= 500 and delivery.error_body is None:
            try:
                delivery.error_body = json.loads(body)
            except ValueError:
                delivery.error_body = body[:200].decode(errors="replace")


class Burst:
    """Signed deliveries paced evenly over ``seconds``, each retried until a 2xx answer or
    ``deadline`` (monotonic); runs on its own thread from :meth:`start` to :meth:`join`."""

    def __init__(self, url: str, secret: str, bodies: list[bytes], *, seconds: float) -> None:
        self.url, self.secret, self.seconds = url, secret, seconds
        self.deliveries = [Delivery(json.loads(b)["id"], b) for b in bodies]
        self.deadline = 0.0
        self.thread: threading.Thread | None = None

    def start(self, *, deadline: float) -> Burst:
        self.deadline = deadline
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        return self

    async def _run(self) -> None:
        begin = time.monotonic() + 0.05
        step = self.seconds / max(1, len(self.deliveries))
        await asyncio.gather(
            *(
                _deliver(self.url, self.secret, d, begin + i * step, self.deadline)
                for i, d in enumerate(self.deliveries)
            )
        )

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


@dataclass
class Purchase:
    """One buyer's purchase (and maybe cancel) through the API, with every answer."""

    user_id: int
    token: str
    cancel: str  # "", "now" or "at_period_end"
    answers: list[int | str] = field(default_factory=list)
    subscription_id: str = ""
    cancel_answers: list[int | str] = field(default_factory=list)

    @property
    def bought(self) -> bool:
        return bool(self.subscription_id)


def _api(url: str, token: str, body: dict) -> tuple[int | str, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}")
        except ValueError:
            return error.code, {"body": raw[:200].decode(errors="replace")}
    except (OSError, TimeoutError, ValueError) as exc:
        return exc.__class__.__name__, {}


def _retrying(call: Callable[[], tuple[int | str, dict]], answers: list, deadline: float) -> dict:
    """Call until a 2xx or a 4xx (retrying cannot help), as a person clicking again would."""
    for wait in (0, *BUYER_RETRIES):
        time.sleep(wait)
        if time.monotonic() > deadline:
            break
        status, body = call()
        answers.append(status)
        if isinstance(status, int) and status < 500:
            return body if status < 300 else {}
    return {}


class Buyers:
    """Purchases with a server-side test card (``payment_method_id``) through NGINX, paced
    over ``seconds``; some buyers cancel afterwards (now, or at the period's end)."""

    def __init__(self, site: str, purchases: list[Purchase], *, seconds: float) -> None:
        self.site, self.purchases, self.seconds = site, purchases, seconds
        self.thread: threading.Thread | None = None

    def start(self, *, deadline: float) -> Buyers:
        self.thread = threading.Thread(target=self._run, args=(deadline,), daemon=True)
        self.thread.start()
        return self

    def _run(self, deadline: float) -> None:
        threads = [
            threading.Thread(target=self._one, args=(p, i, deadline), daemon=True)
            for i, p in enumerate(self.purchases)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _one(self, purchase: Purchase, index: int, deadline: float) -> None:
        time.sleep(index * self.seconds / max(1, len(self.purchases)))
        bought = _retrying(
            lambda: _api(
                f"{self.site}/api/stripe/create-subscription/",
                purchase.token,
                {"payment_method_id": "pm_card_visa"},
            ),
            purchase.answers,
            deadline,
        )
        purchase.subscription_id = str(bought.get("subscription_id") or "")
        if purchase.bought and purchase.cancel:
            _retrying(
                lambda: _api(
                    f"{self.site}/api/stripe/cancel-subscription/",
                    purchase.token,
                    {"at_period_end": purchase.cancel == "at_period_end"},
                ),
                purchase.cancel_answers,
                deadline,
            )

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def http_get(url: str) -> tuple[int | str, dict[str, str], bytes]:
    """A GET as a guest: (status or error name, headers, body)."""
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()
    except (OSError, TimeoutError) as exc:
        return exc.__class__.__name__, {}, b""
