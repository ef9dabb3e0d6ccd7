"""`make bench`: our webhook receiver vs dj-stripe's synchronous webhook view.

    python -m bench.webhooks [--rate 200] [--count 1000] [--subscriptions 20]

Starts throw-away PostgreSQL and Redis (devstack.processes), the offline Stripe stand-in,
migrates a fresh database, makes real subscriptions in the stand-in, then runs the app under
gunicorn (2 sync workers) and posts the same ``customer.subscription.updated`` events, signed,
at a fixed offered rate (open loop: a send is never delayed by a slow answer) to

* ``POST /api/stripe-webhooks/`` — verify, store in the inbox, enqueue to Redis, 200;
* ``POST /djstripe/webhook/<uuid>/`` — dj-stripe 2.11's stock view, which verifies, stores
  and processes the event (syncs the subscription, asking the stand-in) before answering.

It prints, per endpoint, accepted events/s and p50/p99 acknowledgement latency (measured from
the moment each send was due), then the ratios. Loopback only; bounded by ``--count`` and a
per-request timeout. No Celery worker runs during the measurement (only the acknowledgement
is measured; the events wait in Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import BACKEND, PY, say
from devstack.processes import free_port, postgres_server, redis_server, stop, wait_for_port
from fakestripe.launcher import FakeStripe
from fakestripe.signing import sign

OUR_SECRET = "whsec_bench_receiver_0123456789abcdef"
REQUEST_TIMEOUT = 30.0


@dataclass
class Result:
    name: str
    sent: int
    accepted: int
    errors: dict[str, int]
    elapsed: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.name:<34} sent {self.sent:>5}  accepted {self.accepted:>5}  "
            f"{self.rate:8.1f} events/s  p50 {self.pct(0.50):8.1f} ms  "
            f"p99 {self.pct(0.99):8.1f} ms  (errors: {errors})"
        )


async def blast(name: str, url: str, bodies: list[str], secret: str, rate: float) -> Result:
    """Send each body at ``start + i / rate``; latency counts from that due time."""
    import aiohttp

    latencies: list[float] = []
    errors: dict[str, int] = {}
    accepted = 0
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.2

        async def one(i: int, body: str) -> None:
            nonlocal accepted
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)}
            try:
                async with session.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[exc.__class__.__name__] = errors.get(exc.__class__.__name__, 0) + 1
                return
            if 200 <= status < 300:
                accepted += 1
                latencies.append(time.perf_counter() - due)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

        await asyncio.gather(*(one(i, body) for i, body in enumerate(bodies)))
        elapsed = time.perf_counter() - start
    return Result(name, len(bodies), accepted, errors, elapsed, latencies)


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU ({cpu}), Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="offered events per second")
    parser.add_argument("--count", type=int, default=1000, help="events per endpoint")
    parser.add_argument("--subscriptions", type=int, default=20, help="distinct subscriptions")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.count > 20000 or args.rate > 5000:
        parser.error("keep it bounded: --count <= 20000 and --rate <= 5000")

    with contextlib.ExitStack() as stack:
        database = stack.enter_context(postgres_server())
        redis = stack.enter_context(redis_server())
        fake = stack.enter_context(FakeStripe())
        var = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        say(f"PostgreSQL {database}, Redis {redis}, Stripe stand-in {fake.url}")
        assert fake.url is not None
        env: dict[str, str] = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database,
            "REDIS_URL": redis,
            "STRIPE_SECRET_KEY": fake.secret_key,
            "STRIPE_PUBLISHABLE_KEY": fake.publishable_key,
            "STRIPE_API_HOST": fake.url,
            "STRIPE_WEBHOOK_SECRET": OUR_SECRET,
            "DJANGO_DEBUG": "0",
            "VAR_DIR": str(var),
            "LOG_LEVEL": "WARNING",
        }

        def manage(*cmd: str) -> None:
            say("manage.py " + " ".join(cmd))
            subprocess.run(
                [PY, "manage.py", *cmd], cwd=BACKEND, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip

        manage("migrate", "--noinput")
        manage("create_stripe_data")
        events_file = var / "events.json"
        say(f"making {args.subscriptions} subscriptions and {args.count} events")
        subprocess.run(
            [PY, "-m", "bench.prepare", str(events_file), str(args.count), str(args.subscriptions)],
            cwd=BACKEND, env=env, check=True,
        )  # fmt: skip
        prepared = json.loads(events_file.read_text())
        bodies: list[str] = prepared["events"]

        port = free_port()
        say(f"gunicorn, {args.gunicorn_workers} sync workers, on 127.0.0.1:{port}")
        server = subprocess.Popen(
            [PY, "-m", "gunicorn", "config.wsgi:application", "-w", str(args.gunicorn_workers),
             "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "60"],
            cwd=BACKEND, env=env,
        )  # fmt: skip
        stack.callback(stop, server)
        wait_for_port(port, proc=server, timeout=30)
        base = f"http://127.0.0.1:{port}"
        targets = [
            ("this receiver (inbox + Celery)", f"{base}/api/stripe-webhooks/", OUR_SECRET),
            (
                "dj-stripe 2.11 stock view (sync)",
                f"{base}/djstripe/webhook/{prepared['djstripe_uuid']}/",
                prepared["djstripe_secret"],
            ),
        ]
        # Warm both (imports, connections) with a few events that are not counted.
        for _, url, secret in targets:
            asyncio.run(blast("warm-up", url, bodies[:5], secret, 20))
        results = []
        for name, url, secret in targets:
            say(f"{name}: {len(bodies) - 5} events at {args.rate:g}/s")
            results.append(asyncio.run(blast(name, url, bodies[5:], secret, args.rate)))
            time.sleep(1)

    ours, theirs = results
    print()
    print(f"Machine: {machine()}; gunicorn {args.gunicorn_workers} workers, PostgreSQL, Redis")
    print(f"Offered: {args.rate:g} events/s, {ours.sent} events per endpoint, loopback")
    for result in results:
        print(result.line())
    if theirs.rate:
        print(f"ratio accepted/s (this / dj-stripe): {ours.rate / theirs.rate:.2f}x")
    if ours.latencies and theirs.latencies:
        print(
            f"ratio p50 latency (dj-stripe / this): {theirs.pct(0.5) / ours.pct(0.5):.1f}x, "
            f"p99: {theirs.pct(0.99) / ours.pct(0.99):.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
