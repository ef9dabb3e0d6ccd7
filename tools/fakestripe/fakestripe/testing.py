"""Helpers for tests that use the stand-in: plain functions (each test module makes its own
fixtures) and a webhook receiver."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

from .launcher import FakeStripe


def stripe_client(fs: FakeStripe) -> stripe.StripeClient:
    """stripe-python's client pointed at the stand-in, as the app configures it (no retries)."""
    return stripe.StripeClient(fs.secret_key, base_addresses={"api": fs.url}, max_network_retries=0)


def premium_price(client: stripe.StripeClient, amount: int = 1500):
    """A Product and its monthly Price with a unique lookup key."""
    product = client.v1.products.create(params={"name": "Premium", "metadata": {"tier": "p"}})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": amount,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": "premium_monthly_" + uuid.uuid4().hex,
            "metadata": {"plan": "premium"},
        }
    )


class WebhookReceiver:
    """A tiny local webhook endpoint (http.server in a thread) that keeps what it receives and
    checks each delivery's ``Stripe-Signature`` with ``secret`` when it is read."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.received: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[stripe.Event]:
        return [
            stripe.Webhook.construct_event(body, sig, self.secret)
            for body, sig in list(self.received)
        ]

    def wait_for(
        self, predicate: Callable[[stripe.Event], bool], timeout: float = 5.0
    ) -> list[stripe.Event]:
        """The received events matching ``predicate``, waiting up to ``timeout`` s for one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if predicate(e)]
            if found:
                return found
            time.sleep(0.02)
        types = [e.type for e in self.events()]
        raise AssertionError(f"no matching webhook within {timeout}s; got {types}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def premium_prices(client, prefix: str, amounts: dict[str, tuple[int, str]]) -> dict:
    """Prices of one new product, by name: ``{"monthly": (2000, "month"), ...}`` (USD, unique
    lookup keys starting with ``prefix``)."""
    product = client.v1.products.create(params={"name": "Premium"})
    return {
        name: client.v1.prices.create(
            params={
                "product": product.id,
                "unit_amount": amount,
                "currency": "usd",
                "recurring": {"interval": interval},
                "lookup_key": f"{prefix}_{name}_{uuid.uuid4().hex}",
            }
        )
        for name, (amount, interval) in amounts.items()
    }
