"""`make stack`'s topology for `make chaos`: the same processes, commands and settings, but
supervised the way Compose runs production (``restart: unless-stopped``) and with services
that can be killed, stopped and started again on the same addresses.

    NGINX → gunicorn (config.settings.stack: production + the stand-ins) → PostgreSQL
    Celery worker + beat ── Redis (append-only, as docker-compose.yml has it)
    the Stripe stand-in (its webhooks → NGINX, retried on a long schedule), the dev mail server

What differs from ``make stack`` (devstack.stack), and why:

* the Supervisor restarts a process that dies (``make stack`` stops everything instead, so
  that a crash there fails loudly); a process stopped on purpose stays down until resumed;
* PostgreSQL and Redis are :class:`~devstack.processes.PostgresServer` /
  :class:`~devstack.processes.RedisServer` objects the scenarios stop and start;
* :data:`CHAOS_SETTINGS`: the sweeps run every 15 s instead of 3 min (events) and 1 min
  (e-mails), as a run must fit in 10 minutes, and the purchase rate limits are raised (every
  buyer comes from 127.0.0.1). ``BILLING_WEBHOOK_STALE_AFTER`` (15 min),
  ``BILLING_EMAIL_STALE_AFTER`` (10 min) and the Redis visibility timeout (10 min) keep
  their production values: a crash that waited for one of them could not converge in a run;
* no collectstatic and no SPA: nothing here looks at pages.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devstack import mailserver, migrated
from devstack.nginx import nginx_command, nginx_test, production_values, write_nginx_config
from devstack.paths import SPA_DIR, say
from devstack.processes import (
    PostgresServer,
    RedisServer,
    Supervisor,
    free_port,
    manage,
    wait_for_port,
    wait_http,
)
from devstack.stack import BEAT_CMD, GUNICORN_CMD, WORKER_CMD, stack_environ
from fakestripe.launcher import FakeStripe

#: Settings of the chaos run that differ from `make stack`'s (see the module docstring).
CHAOS_SETTINGS = {
    "BILLING_WEBHOOK_SWEEP_SECONDS": "15",
    "BILLING_WEBHOOK_SWEEP_AFTER": "15",
    # The e-mail sweep likewise (production: every 60 s, mails waiting 120 s): it re-sends a
    # mail whose task was lost or whose sender died, and the run counts those copies.
    "BILLING_EMAIL_SWEEP_SECONDS": "15",
    "BILLING_EMAIL_SWEEP_AFTER": "15",
    "BILLING_RATE_PURCHASE_USER": "1000/hour",
    "BILLING_RATE_PURCHASE_IP": "1000/hour",
    "BILLING_RATE_STRIPE_CALLS_USER": "1000/hour",
}
#: Sweep interval + age: the worst case for an event whose wake-up was lost.
SWEEP_BOUND = 30
#: The stand-in's delivery retries (seconds after each failed attempt): ~5 minutes, longer
#: than any outage here. Stripe retries for up to three days.
WEBHOOK_RETRIES = [1, 2, 4, 8, 15, 30, 30, 30, 30, 30, 30, 30, 30]
#: The backend image's processes: what "the app" is when it is down.
APP_PROCESSES = ("gunicorn", "celery-worker", "celery-beat")


@dataclass
class Topology:
    """Handles of the running topology."""

    url: str
    webhook_secret: str
    environ: dict[str, str]
    supervisor: Supervisor
    postgres: PostgresServer
    redis: RedisServer
    fake: FakeStripe
    log_dir: Path
    maildir: Path
    #: Serializes the watcher's restarts with the scenarios' stops and starts.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/stripe-webhooks/"

    @property
    def worker_log(self) -> Path:
        return self.log_dir / "celery-worker.log"

    def pid(self, name: str) -> int:
        with self.lock:
            return int(self.supervisor.get(name).popen.pid)

    def stop(self, *names: str) -> None:
        """``docker compose stop``: down until :meth:`start`."""
        with self.lock:
            for name in names:
                self.supervisor.stop(name)

    def start(self, *names: str) -> None:
        with self.lock:
            for name in names:
                self.supervisor.resume(name)

    def restarts(self, name: str) -> int:
        with self.lock:
            return self.supervisor.get(name).restarts


def register_webhook(fake: FakeStripe, url: str, secret: str) -> None:
    """The app's endpoint at the stand-in, with the long retry schedule."""
    body = json.dumps({"url": url, "secret": secret, "retries": WEBHOOK_RETRIES}).encode()
    request = urllib.request.Request(
        f"{fake.url}/_config/webhooks/app",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def _watch(topology: Topology, stop: threading.Event) -> None:
    while not stop.is_set():
        with topology.lock:
            topology.supervisor.watch()
        stop.wait(0.1)


@contextlib.contextmanager
def topology_up(*, log_dir: Path, gunicorn_workers: int = 3) -> Iterator[Topology]:
    """Start everything (about a minute), yield, stop everything in reverse order. The logs
    of a previous run in ``log_dir`` are removed (the counts read the logs)."""
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    with contextlib.ExitStack() as resources:
        run_dir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="chaos-")))
        run_dir.chmod(0o755)
        postgres = PostgresServer().start()
        resources.callback(postgres.close)
        redis = RedisServer(appendonly=True).start()
        resources.callback(redis.close)
        fake = resources.enter_context(FakeStripe(state_dir=run_dir / "fakestripe"))
        assert fake.url, "the Stripe stand-in did not report its URL"
        say(f"PostgreSQL {postgres.url}, Redis {redis.url}, Stripe stand-in {fake.url}")
        port, gunicorn_port, mail_port = free_port(), free_port(), free_port()
        site = f"http://127.0.0.1:{port}"
        webhook_secret = "whsec_chaos" + secrets.token_hex(16)
        environ = stack_environ(
            site=site,
            gunicorn_port=gunicorn_port,
            run_dir=run_dir,
            database=postgres.url,
            redis=redis.url,
            fake_url=fake.url,
            fake_secret=fake.secret_key,
            fake_publishable=fake.publishable_key,
            webhook_secret=webhook_secret,
            workers=gunicorn_workers,
        )
        environ.update(CHAOS_SETTINGS)
        (run_dir / "var").mkdir()
        maildir = run_dir / "var" / "mailbox"
        environ.update(mailserver.app_environ(port=mail_port, maildir=maildir))
        quiet = {**environ, "OPENSEC_STACK_QUIET": "1"}
        migrated.migrate(quiet, lambda: manage(quiet, "migrate", "--noinput", "-v", "0"))
        manage(quiet, "createcachetable")
        manage(quiet, "create_stripe_data")

        supervisor = Supervisor(environ, log_dir, restart=True)
        topology = Topology(
            url=site,
            webhook_secret=webhook_secret,
            environ=environ,
            supervisor=supervisor,
            postgres=postgres,
            redis=redis,
            fake=fake,
            log_dir=log_dir,
            maildir=maildir,
        )
        resources.callback(supervisor.stop_all)
        mail = supervisor.start("mail", mailserver.command(maildir=maildir, port=mail_port))
        wait_for_port(mail_port, proc=mail.popen)
        supervisor.start("gunicorn", GUNICORN_CMD)
        supervisor.start("celery-worker", WORKER_CMD)
        schedule = environ["CELERY_BEAT_SCHEDULE_FILENAME"]
        supervisor.start("celery-beat", [*BEAT_CMD, "--schedule", schedule])
        wait_http(f"http://127.0.0.1:{gunicorn_port}/api/", procs=supervisor.procs)
        values = production_values(
            LISTEN_PORT=f"127.0.0.1:{port}",
            BACKEND_UPSTREAM=f"127.0.0.1:{gunicorn_port}",
            SPA_ROOT=str(SPA_DIR),
            STATIC_ROOT=str(run_dir / "static"),
            CSP_EXTRA_SOURCES="'self'",
        )
        conf = write_nginx_config(run_dir / "nginx", values, devtools=True, log_dir=log_dir)
        result = nginx_test(conf)
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t refused {conf}:\n{result.stdout}{result.stderr}")
        supervisor.start("nginx", nginx_command(conf), stop_signal=signal.SIGQUIT)
        wait_http(f"{site}/api/", procs=supervisor.procs)
        register_webhook(fake, topology.webhook_url, webhook_secret)
        wait_ready(topology)

        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(topology, stop), daemon=True)
        watcher.start()
        try:
            yield topology
        finally:
            stop.set()
            watcher.join()


def wait_ready(topology: Topology, *, since: int = 0, timeout: float = 90) -> None:
    """Until the worker's log says ``ready.`` more than ``since`` times (a (re)start done)."""
    deadline = time.monotonic() + timeout
    while worker_ready_count(topology) <= since:
        if time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not get ready:\n" + _tail(topology))
        time.sleep(0.2)


def worker_ready_count(topology: Topology) -> int:
    try:
        return topology.worker_log.read_text(errors="replace").count(" ready.")
    except OSError:
        return 0


def _tail(topology: Topology, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(topology.worker_log.read_text(errors="replace").splitlines()[-lines:])
    return ""
