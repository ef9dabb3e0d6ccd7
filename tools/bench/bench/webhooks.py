"""`make bench`: the webhook receiver at saturation, against dj-stripe's stock view; the time
from a webhook to the entitlement; Stripe calls per purchase.

    python -m bench.webhooks [--phases throughput,latency,purchases,run,stack] [--seconds 8]
                             [--connections 16] [--rate 200] [--samples 40] [--idle-seconds 30]

Everything on loopback, bounded in count and time, and stopped at the end. The phases:

``throughput``
    Throw-away PostgreSQL and Redis (devstack.processes), the offline Stripe stand-in, a
    fresh migrated database, real subscriptions in the stand-in (``bench.prepare``), and the
    app under gunicorn (2 sync workers; ``config.wsgi``, as in production). For each receiver
    — ``POST /api/stripe-webhooks/`` (verify, store in the inbox, wake the worker, 200) and
    ``POST /djstripe/webhook/<uuid>/`` (dj-stripe 2.11's stock view, which verifies, stores
    and processes the event, asking the stand-in, before answering) — signed
    ``customer.subscription.updated`` events with distinct ids (``bench.load``): an open loop
    at ``--rate`` events/s (p50/p99 of the acknowledgement), then a closed loop with
    ``--connections`` requests always in flight for ``--seconds`` (accepted events/s there is
    the **saturation** throughput). No Celery worker runs meanwhile: only the
    acknowledgement is measured.
``latency``
    The real Celery worker on Redis (``make stack``'s command) beside the same gunicorn:
    webhook → entitlement (``bench.entitlement``), ``--samples`` times. Runs (with
    ``purchases``) before ``throughput``, on the fresh database, and the worker is stopped
    before the throughput is measured.
``purchases``
    Stripe calls per purchase, new and returning customer, from the stand-in's request
    journal (``bench.purchases``), with the stand-in's webhooks flowing to the worker.
``run``
    ``make run`` itself (``devstack.run``: SQLite, the embedded filesystem broker,
    runserver): the Celery worker's CPU while idle over ``--idle-seconds`` (from /proc), then
    webhook → entitlement.
``stack``
    ``make stack`` itself (``devstack.stack``: NGINX, gunicorn, Celery worker and beat,
    PostgreSQL, Redis, production settings), if the SPA is built: webhook → entitlement
    through NGINX.

Prints each phase as it ends and a summary at the end, with the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.load import Result, Target, closed_loop, event_ids, open_loop
from devstack import migrated
from devstack.paths import BACKEND, PY, SPA_DIR, say
from devstack.processes import free_port, postgres_server, redis_server, stop, wait_for_port
from devstack.stack import WORKER_CMD
from fakestripe.launcher import FakeStripe

OUR_SECRET = "whsec_bench_receiver_0123456789abcdef"
#: The stand-in delivers its webhooks this long after a change, so that in the purchase
#: count no delivery (and no worker call) overlaps a request of the purchase.
WEBHOOK_DELAY = 1.5
PLACEHOLDER = "evt_bench_placeholder"
PHASES = ("throughput", "latency", "purchases", "run", "stack")


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def event_templates(subscriptions: list[dict[str, Any]]) -> list[str]:
    """One ``customer.subscription.updated`` body per subscription, its id a placeholder."""
    now = int(time.time())
    return [
        json.dumps(
            {
                "id": PLACEHOLDER,
                "object": "event",
                "api_version": "2026-08-26.dahlia",
                "created": now,
                "data": {"object": sub, "previous_attributes": {}},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": "customer.subscription.updated",
            }
        )
        for sub in subscriptions
    ]


def bodies(templates: list[str], prefix: str) -> Callable[[], str]:
    """A fresh event each call: the templates in turn, each with the next distinct id."""
    ids = event_ids(prefix)
    turn = iter(range(10**9))

    def next_body() -> str:
        return templates[next(turn) % len(templates)].replace(PLACEHOLDER, next(ids), 1)

    return next_body


def show(result: Result) -> None:
    print(
        f"  {result.name:<44} {result.accepted:>6} accepted  {result.rate:8.1f}/s  "
        f"p50 {result.pct(0.50):8.1f} ms  p99 {result.pct(0.99):8.1f} ms  "
        f"(errors: {result.errors_text()})",
        flush=True,
    )


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds (nearest rank)."""
    if not samples:
        return float("nan"), float("nan")
    ordered = sorted(samples)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return at(0.50), at(0.99)


# --- Processes ------------------------------------------------------------------------------


def wait_file(path: Path, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"{proc.args!r} did not get ready:\n{tail}")
        time.sleep(0.2)


def wait_log(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"{proc.args!r} did not log {text!r}:\n{tail}")
        time.sleep(0.2)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time so far of these processes (the ones still alive)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User + system CPU time of this process so far (the load generator)."""
    times = os.times()
    return times.user + times.system


def idle_cpu(pid: int, seconds: float) -> float:
    """Percent of one core that ``pid`` and its children use over ``seconds`` of idling."""
    tree = process_tree(pid)
    before, start = cpu_seconds(tree), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(tree) - before) / (time.monotonic() - start)


def probe_latency(env: dict[str, str], url: str, secret: str, samples: int, out: Path) -> dict:
    subprocess.run(
        [PY, "-m", "bench.entitlement", url, secret, str(out), "--samples", str(samples)],
        cwd=BACKEND, env=env, check=True,
    )  # fmt: skip
    result: dict = json.loads(out.read_text())
    result["p50"], result["p99"] = percentiles(result["latencies"])
    result["ack_p50"], result["ack_p99"] = percentiles(result["acks"])
    return result


def show_latency(name: str, result: dict) -> None:
    print(
        f"  {name:<44} {len(result['latencies']):>3} samples  p50 {result['p50']:7.1f} ms  "
        f"p99 {result['p99']:7.1f} ms  (mean {statistics.fmean(result['latencies']) * 1000:.1f}"
        f" ms; the POST's answer p50 {result['ack_p50']:.1f} ms; timeouts {result['timeouts']})",
        flush=True,
    )


# --- Phases ---------------------------------------------------------------------------------


def throughput(
    args: argparse.Namespace, port: int, server_pid: int, prepared: dict, report: dict
) -> None:
    """Both receivers: warm-up, open loop at --rate, closed loop at saturation."""
    templates = event_templates(prepared["subscriptions"])
    ours = Target("127.0.0.1", port, "/api/stripe-webhooks/", OUR_SECRET)
    theirs = Target(
        "127.0.0.1",
        port,
        f"/djstripe/webhook/{prepared['djstripe_uuid']}/",
        prepared["djstripe_secret"],
    )
    plan = [
        ("ours", "this receiver", ours, "load", args.rate_seconds, args.seconds),
        ("theirs", "dj-stripe 2.11 stock view", theirs, "djs", args.djstripe_rate_seconds,
         args.djstripe_seconds),
    ]  # fmt: skip
    for key, name, target, prefix, rate_seconds, seconds in plan:
        next_body = bodies(templates, prefix)
        say(f"{name}: warm-up, then {args.rate:g}/s for {rate_seconds:g} s, then saturation")
        closed_loop(target, next_body, connections=2, seconds=1, name="warm-up")
        count = int(args.rate * rate_seconds)
        offered = open_loop(
            target, next_body, rate=args.rate, count=count, name=f"{name}, {args.rate:g}/s offered"
        )
        show(offered)
        time.sleep(1)
        server_tree = process_tree(server_pid)
        server_before, own_before = cpu_seconds(server_tree), own_cpu_seconds()
        saturated = closed_loop(
            target, next_body, connections=args.connections, seconds=seconds,
            name=f"{name}, saturation ({args.connections} in flight)",
        )  # fmt: skip
        show(saturated)
        # What an answer cost in CPU, at saturation: the app's gunicorn workers, the load
        # generator (PostgreSQL, Redis and the kernel's loopback take the rest of 2 cores).
        per = 1e6 / max(1, saturated.answered)
        report[f"{key}_cpu"] = (
            (cpu_seconds(server_tree) - server_before) * per,
            (own_cpu_seconds() - own_before) * per,
        )
        print(
            f"  {'':<44} CPU per answer: gunicorn {report[f'{key}_cpu'][0]:.0f} us, "
            f"load generator {report[f'{key}_cpu'][1]:.0f} us",
            flush=True,
        )
        report[f"{key}_offered"], report[f"{key}_saturated"] = offered, saturated
        time.sleep(1)


@contextlib.contextmanager
def make_run(var: Path, secret: str) -> Iterator[dict]:
    """``make run`` (devstack.run) on its embedded defaults in ``var``; yields its ready file."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL="", REDIS_URL="", CELERY_BROKER_URL="filesystem://", STRIPE_SECRET_KEY="",
        STRIPE_WEBHOOK_SECRET=secret, PYTHONUNBUFFERED="1",
    )  # fmt: skip
    ready, log = var / "ready.json", var / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PY, "-m", "devstack.run", "--port", "0", "--var-dir", str(var / "var"),
             "--ready-file", str(ready)],
            cwd=BACKEND, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_file(ready, proc, 240, log)
        info = json.loads(ready.read_text())
        wait_log(log, " ready.", proc, 60)  # the Celery worker
        yield info
    finally:
        stop(proc, timeout=30)


def run_phase(args: argparse.Namespace, report: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        var = Path(tmp)
        say("make run (devstack.run: SQLite, filesystem broker, runserver), starting")
        with make_run(var, OUR_SECRET) as info:
            quiet_stand_in(info["stripe_url"])
            time.sleep(3)  # the worker's start-up settles
            say(f"make run: the Celery worker's CPU over {args.idle_seconds:g} s of idling")
            report["run_idle_cpu"] = idle_cpu(info["pids"]["celery"], args.idle_seconds)
            print(f"  idle Celery worker (make run): {report['run_idle_cpu']:.2f} % of one core")
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
            env.update(
                DJANGO_SETTINGS_MODULE="bench.settings", VAR_DIR=str(var / "var"),
                CELERY_BROKER_URL="filesystem://", STRIPE_API_HOST=info["stripe_url"],
                STRIPE_WEBHOOK_SECRET=OUR_SECRET,
            )  # fmt: skip
            say(f"make run: webhook -> entitlement, {args.samples} samples")
            report["run_latency"] = probe_latency(
                env, info["url"] + "/api/stripe-webhooks/", OUR_SECRET, args.samples,
                var / "latency.json",
            )  # fmt: skip
            show_latency("webhook -> entitlement (make run)", report["run_latency"])


def quiet_stand_in(stripe_url: str) -> None:
    """Unregister the app from the stand-in's webhooks: the probe's events must be the only
    ones the app gets (see bench.entitlement)."""
    request = urllib.request.Request(stripe_url + "/_config/webhooks/app", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()


def stack_phase(args: argparse.Namespace, report: dict) -> None:
    """``make stack`` itself (devstack.stack: NGINX, gunicorn, Celery worker and beat,
    PostgreSQL, Redis, production settings): webhook -> entitlement through NGINX."""
    if not (SPA_DIR / "index.html").is_file():
        say(f"make stack needs the built SPA ({SPA_DIR}; `make frontend-build`): skipped")
        return
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        folder = Path(tmp)
        ready, log = folder / "ready.json", folder / "stack.log"
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        say("make stack (devstack.stack), starting")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [PY, "-m", "devstack.stack", "--ready-file", str(ready),
                 "--log-dir", str(folder / "logs")],
                cwd=BACKEND, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            wait_file(ready, proc, 300, log)
            info = json.loads(ready.read_text())
            stripe = info["stripe"]
            quiet_stand_in(stripe["api_host"])
            probe_env = {
                **env,
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "DATABASE_URL": info["database_url"],
                "REDIS_URL": info["redis_url"],
                "CELERY_BROKER_URL": info["redis_url"],
                "STRIPE_API_HOST": stripe["api_host"],
                "STRIPE_SECRET_KEY": stripe["secret_key"],
                "VAR_DIR": str(folder / "probe"),
            }
            say(f"make stack: webhook -> entitlement through NGINX, {args.samples} samples")
            report["stack_latency"] = probe_latency(
                probe_env, stripe["webhook_url"], stripe["webhook_secret"], args.samples,
                folder / "latency.json",
            )  # fmt: skip
            show_latency("webhook -> entitlement (make stack)", report["stack_latency"])
        finally:
            stop(proc, timeout=60)


def summary(args: argparse.Namespace, report: dict, load_before: str) -> None:
    print()
    print(f"Machine: {machine()}; load average before {load_before}, after {load_average()}")
    if "ours_saturated" in report:
        ours, theirs = report["ours_saturated"], report["theirs_saturated"]
        print(
            f"gunicorn {args.gunicorn_workers} sync workers, PostgreSQL, Redis, the load generator"
            f" on the same machine, loopback; saturation: {args.connections} requests in flight"
            f" for {args.seconds:g} s (dj-stripe {args.djstripe_seconds:g} s)\n"
        )
        rate = f"{args.rate:g}/s"
        print(f"| receiver | accepted/s at saturation | p50 at {rate} | p99 at {rate} |")
        print("|---|---|---|---|")
        for name, key in (
            ("this receiver (verify, store, wake the worker)", "ours"),
            ("dj-stripe 2.11 stock view (processes in the request)", "theirs"),
        ):
            sat, off = report[f"{key}_saturated"], report[f"{key}_offered"]
            errors = f" (errors: {off.errors_text()})" if off.errors else ""
            print(
                f"| {name} | {sat.rate:.0f} | {off.pct(0.5):.1f} ms | {off.pct(0.99):.1f} ms |"
                + errors
            )
        if theirs.rate:
            print(f"| ratio | {ours.rate / theirs.rate:.1f}x | | |")
        print(
            f"\nCPU per answer at saturation (gunicorn workers / load generator): this receiver"
            f" {report['ours_cpu'][0]:.0f} / {report['ours_cpu'][1]:.0f} us, dj-stripe"
            f" {report['theirs_cpu'][0]:.0f} / {report['theirs_cpu'][1]:.0f} us"
        )
    rows = [
        ("gunicorn + Celery worker on Redis + PostgreSQL", report.get("redis_latency")),
        ("make run (runserver, filesystem broker, SQLite)", report.get("run_latency")),
        ("make stack (NGINX, gunicorn, Celery on Redis, PostgreSQL)", report.get("stack_latency")),
    ]
    if any(result for _, result in rows):
        print("\n| webhook -> entitlement | p50 | p99 | samples |")
        print("|---|---|---|---|")
        for name, result in rows:
            if result:
                print(
                    f"| {name} | {result['p50']:.0f} ms | {result['p99']:.0f} ms |"
                    f" {len(result['latencies'])} |"
                )
    if "run_idle_cpu" in report:
        print(f"\nIdle Celery worker of make run: {report['run_idle_cpu']:.2f} % of one core")
    for kind, steps in report.get("purchases", {}).items():
        ours_total = sum(len(c) for step, c in steps.items() if "browser" not in step)
        print(f"\nStripe calls per purchase, {kind} customer: {ours_total} by the app")
        for step, calls in steps.items():
            counted = {c: calls.count(c) for c in dict.fromkeys(calls)}
            listed = ", ".join(f"{n} x {c}" if n > 1 else c for c, n in counted.items())
            print(f"  {step}: {len(calls)}  ({listed or '-'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="saturation window, this receiver")
    parser.add_argument("--djstripe-seconds", type=float, default=6, help="saturation, dj-stripe")
    parser.add_argument("--connections", type=int, default=16, help="in flight at saturation")
    parser.add_argument("--rate", type=float, default=200.0, help="offered events/s (open loop)")
    parser.add_argument("--rate-seconds", type=float, default=5, help="open loop, this receiver")
    parser.add_argument(
        "--djstripe-rate-seconds", type=float, default=2, help="open loop, dj-stripe"
    )
    parser.add_argument("--subscriptions", type=int, default=20, help="distinct subscriptions")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=40, help="webhook -> entitlement samples")
    parser.add_argument("--idle-seconds", type=float, default=30, help="make run's idle worker")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, of {', '.join(PHASES)} (default: all)",
    )
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    if not phases or phases - set(PHASES):
        parser.error(f"--phases: choose among {', '.join(PHASES)}")
    if not (0 < args.seconds <= 60 and 0 < args.rate <= 2000 and 0 < args.connections <= 256):
        parser.error("keep it bounded: --seconds <= 60, --rate <= 2000, --connections <= 256")
    load_before = load_average()
    say(f"load average now: {load_before} (figures are only as good as the machine is quiet)")
    report: dict[str, Any] = {}

    if phases & {"throughput", "latency", "purchases"}:
        with contextlib.ExitStack() as stack:
            stack_phases(args, phases, stack, report)
    if "run" in phases:
        run_phase(args, report)
    if "stack" in phases:
        stack_phase(args, report)
    summary(args, report, load_before)
    return 0


def stack_phases(
    args: argparse.Namespace, phases: set[str], stack: contextlib.ExitStack, report: dict
) -> None:
    """Phases 1-4: PostgreSQL, Redis, the stand-in, gunicorn, then the Celery worker."""
    database = stack.enter_context(postgres_server())
    redis = stack.enter_context(redis_server())
    fake = stack.enter_context(FakeStripe(webhook_delay=WEBHOOK_DELAY))
    var = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    say(f"PostgreSQL {database}, Redis {redis}, Stripe stand-in {fake.url}")
    assert fake.url is not None
    env: dict[str, str] = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "CELERY_BROKER_URL": redis,
        "STRIPE_SECRET_KEY": fake.secret_key,
        "STRIPE_PUBLISHABLE_KEY": fake.publishable_key,
        "STRIPE_API_HOST": fake.url,
        "STRIPE_WEBHOOK_SECRET": OUR_SECRET,
        "DJANGO_DEBUG": "0",
        "VAR_DIR": str(var),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }

    def run(*command: str) -> None:
        subprocess.run([PY, *command], cwd=BACKEND, env=env, check=True)

    say("manage.py migrate --noinput -v 0")
    migrated.migrate(env, lambda: run("manage.py", "migrate", "--noinput", "-v", "0"))
    say("manage.py create_stripe_data")
    run("manage.py", "create_stripe_data")
    say(f"making {args.subscriptions} subscriptions in the stand-in")
    prepared_file = var / "prepared.json"
    run("-m", "bench.prepare", str(prepared_file), str(args.subscriptions))
    prepared = json.loads(prepared_file.read_text())

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    say(f"gunicorn, {args.gunicorn_workers} sync workers, on 127.0.0.1:{port}")
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi:application", "-w", str(args.gunicorn_workers),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "60"],
        cwd=BACKEND, env=env,
    )  # fmt: skip
    stack.callback(stop, server)
    wait_for_port(port, proc=server, timeout=30)
    if phases & {"latency", "purchases"}:
        # First, on a fresh database: the throughput phase leaves thousands of events behind.
        worker_log = var / "worker.log"
        say("Celery worker on Redis (make stack's command)")
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen(
                WORKER_CMD, cwd=BACKEND, env={**env, "LOG_LEVEL": "INFO"}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_log(worker_log, " ready.", worker, 60)
            if "latency" in phases:
                say(f"webhook -> entitlement, {args.samples} samples")
                report["redis_latency"] = probe_latency(
                    env, f"{base}/api/stripe-webhooks/", OUR_SECRET, args.samples,
                    var / "latency.json",
                )  # fmt: skip
                show_latency("webhook -> entitlement (Redis worker)", report["redis_latency"])
            if "purchases" in phases:
                say("Stripe calls per purchase (new, then returning customer)")
                fake.register_webhook(f"{base}/api/stripe-webhooks/", OUR_SECRET)
                fake.clear_requests_log()
                purchases_file = var / "purchases.json"
                run("-m", "bench.purchases", fake.url, str(purchases_file),
                    "--webhook-delay", str(WEBHOOK_DELAY))  # fmt: skip
                fake.unregister_webhook()
                report["purchases"] = json.loads(purchases_file.read_text())
        finally:
            stop(worker, timeout=20)  # the throughput phase measures the receiver alone
    if "throughput" in phases:
        throughput(args, port, server.pid, prepared, report)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
