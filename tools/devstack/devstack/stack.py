"""`make stack`: the production topology on one machine, without Docker.

    python -m devstack.stack [--port 0] [--ready-file PATH] [--workers 3] [--smoke]

The same pieces as docker-compose.yml, from Debian's packages and this repo's own files:

    NGINX  (nginx/templates/default.conf.template, rendered like the nginx image does:
            devstack.nginx)
      ├── the built SPA (frontend/dist/spa), /static/ (collectstatic into the run folder)
      └── /api/ /auth/ /admin/ → gunicorn (backend/config/gunicorn.py, the image's command)
    PostgreSQL + Redis (devstack.processes: throw-away, free ports)
    Celery worker and beat (the image's commands)

with the production settings, except that the two stand-ins replace the two outside services:
the offline Stripe (tools/fakestripe, its webhooks registered to NGINX's
``/api/stripe-webhooks/``) and the dev LinkedIn (``/_dev/oidc/``). Production settings refuse
stand-ins, so the processes run ``config.settings.stack`` (production + ``DEVTOOLS_ALLOWED``,
loadable only with ``OPENSEC_STACK_E2E=1``, plain http on loopback; docs/deploy.md).

E-mails go to the dev mail server (devstack.mailserver, plain SMTP on loopback; the Maildir is
shown at ``/_dev/mailbox/``). Start-up runs collectstatic, migrate, createcachetable,
create_stripe_data --demo-promotion-code and load_13f --demo, then prints the URL and, with
``--ready-file``, writes a JSON file (see ``ready_info``) once every part answers. Ctrl-C or
SIGTERM stops everything it started, in order; the logs stay in ``--log-dir`` (default var/stack/).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devstack import mailserver, migrated
from devstack.nginx import (
    nginx_binary,
    nginx_command,
    nginx_test,
    production_values,
    write_nginx_config,
)
from devstack.paths import PY, ROOT, SPA_DIR, say
from devstack.processes import (
    Supervisor,
    free_port,
    manage,
    postgres_server,
    redis_server,
    wait_for_port,
    wait_http,
    write_ready_file,
)
from devstack.smoke import http, smoke
from devtools.offline import DEV_OIDC_CLIENT_ID, DEV_OIDC_CLIENT_SECRET
from fakestripe.launcher import FakeStripe

# The commands of backend/Dockerfile and docker-compose.yml (with this venv's Python).
GUNICORN_CMD = [PY, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi:application"]
WORKER_CMD = [
    *(PY, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO"),
    *("--concurrency=2", "--without-gossip", "--without-mingle"),
]
BEAT_CMD = [PY, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]


@dataclass
class Stack:
    """Handles of a running stack (what ``ready_info`` reports)."""

    url: str
    backend_url: str
    run_dir: Path
    log_dir: Path
    fake_url: str
    webhook_secret: str
    supervisor: Supervisor


def stack_environ(
    *,
    site: str,
    gunicorn_port: int,
    run_dir: Path,
    database: str,
    redis: str,
    fake_url: str,
    fake_secret: str,
    fake_publishable: str,
    webhook_secret: str,
    workers: int,
) -> dict[str, str]:
    """The environment of every process of the stack (set here, so .env cannot override it)."""
    environ = dict(os.environ)
    environ.update(
        {
            "OPENSEC_STACK_E2E": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings.stack",
            # Fresh per run; never a real key.
            "DJANGO_SECRET_KEY": "stack-" + secrets.token_urlsafe(48),
            "JWT_SIGNING_KEY": "stack-" + secrets.token_urlsafe(48),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": site,
            "SITE_URL": site,
            # NGINX reaches gunicorn from loopback: believe its X-Forwarded-For, no one else's.
            "TRUSTED_PROXIES": "127.0.0.1",
            "DATABASE_URL": database,
            "REDIS_URL": redis,
            "CELERY_BROKER_URL": redis,
            "VAR_DIR": str(run_dir / "var"),
            "DJANGO_STATIC_ROOT": str(run_dir / "static"),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(run_dir / "var" / "celerybeat-schedule"),
            "STRIPE_API_HOST": fake_url,
            "STRIPE_SECRET_KEY": fake_secret,
            "STRIPE_PUBLISHABLE_KEY": fake_publishable,
            "STRIPE_WEBHOOK_SECRET": webhook_secret,
            "STRIPE_PRICE_ID": "",
            "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY": DEV_OIDC_CLIENT_ID,
            "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET": DEV_OIDC_CLIENT_SECRET,
            "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT": f"{site}/_dev/oidc",
            "GUNICORN_BIND": f"127.0.0.1:{gunicorn_port}",
            "GUNICORN_WORKERS": str(workers),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environ


def ready_info(stack: Stack, *, fake_secret: str, fake_publishable: str) -> dict:
    """The ``--ready-file`` contents (JSON), for the e2e runner."""
    env = stack.supervisor.environ
    return {
        "url": stack.url,
        "backend_url": stack.backend_url,
        "settings": env["DJANGO_SETTINGS_MODULE"],
        "pid": os.getpid(),
        "pids": {proc.name: proc.popen.pid for proc in stack.supervisor.procs},
        "database_url": env["DATABASE_URL"],
        "redis_url": env["REDIS_URL"],
        "stripe": {
            "api_host": stack.fake_url,
            "secret_key": fake_secret,
            "publishable_key": fake_publishable,
            "webhook_secret": stack.webhook_secret,
            "webhook_url": f"{stack.url}/api/stripe-webhooks/",
        },
        "oidc_issuer": f"{stack.url}/_dev/oidc",
        # What the app e-mailed (the dev mail server's Maildir; ?format=json for tests).
        "mailbox_url": f"{stack.url}/_dev/mailbox/",
        "log_dir": str(stack.log_dir),
        "nginx_config": str(stack.run_dir / "nginx" / "nginx.conf"),
    }


class Stop(Exception):
    """SIGTERM/SIGINT: leave the main loop and stop everything."""


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    if not (SPA_DIR / "index.html").is_file():
        print(f"The SPA is not built ({SPA_DIR}): run `make frontend-build`.", file=sys.stderr)
        return 2
    nginx_binary()
    log_dir = Path(args.log_dir).resolve()
    if log_dir.exists():
        shutil.rmtree(log_dir)
    log_dir.mkdir(parents=True)
    ready_file = Path(args.ready_file).resolve() if args.ready_file else None
    if ready_file:
        ready_file.unlink(missing_ok=True)

    with stop_on_signals(), contextlib.ExitStack() as resources:
        run_dir = Path(
            resources.enter_context(tempfile.TemporaryDirectory(prefix="opensec-stack-"))
        )
        run_dir.chmod(0o755)
        stack: Stack | None = None
        try:
            database = resources.enter_context(postgres_server())
            redis = resources.enter_context(redis_server())
            fake = resources.enter_context(FakeStripe(state_dir=run_dir / "fakestripe"))
            assert fake.url, "the Stripe stand-in did not report its URL"
            say(f"PostgreSQL {database}, Redis {redis}, Stripe stand-in {fake.url}")
            port = args.port or free_port()
            gunicorn_port = free_port()
            site = f"http://127.0.0.1:{port}"
            # Its hosted pages (invoice page/PDF, billing portal) reach the browser through
            # NGINX's /_dev/ → Django's dev proxy, /_dev/_stripe/ (devtools/stripe_proxy.py).
            fake.set_public_url(f"{site}/_dev")
            webhook_secret = "whsec_stack" + secrets.token_hex(16)
            environ = stack_environ(
                site=site,
                gunicorn_port=gunicorn_port,
                run_dir=run_dir,
                database=database,
                redis=redis,
                fake_url=fake.url,
                fake_secret=fake.secret_key,
                fake_publishable=fake.publishable_key,
                webhook_secret=webhook_secret,
                workers=args.workers,
            )
            (run_dir / "var").mkdir()
            # E-mails: production's SMTP settings, pointed at the dev mail server on loopback.
            mail_port = free_port()
            maildir = run_dir / "var" / "mailbox"
            environ.update(mailserver.app_environ(port=mail_port, maildir=maildir))
            stack = Stack(
                url=site,
                backend_url=f"http://127.0.0.1:{gunicorn_port}",
                run_dir=run_dir,
                log_dir=log_dir,
                fake_url=fake.url,
                webhook_secret=webhook_secret,
                supervisor=Supervisor(environ, log_dir),
            )
            quiet = {**environ, "OPENSEC_STACK_QUIET": "1"}
            say("config.settings.stack: production settings + the offline stand-ins (TEST-ONLY)")
            manage(quiet, "collectstatic", "--noinput", "-v", "0")
            migrated.migrate(quiet, lambda: manage(quiet, "migrate", "--noinput", "-v", "0"))
            manage(quiet, "createcachetable")
            manage(quiet, "create_stripe_data", "--demo-promotion-code")  # the stand-in only
            manage(quiet, "load_13f", "--demo")

            mail = stack.supervisor.start(
                "mail", mailserver.command(maildir=maildir, port=mail_port)
            )
            wait_for_port(mail_port, proc=mail.popen)
            stack.supervisor.start("gunicorn", GUNICORN_CMD)
            stack.supervisor.start("celery-worker", WORKER_CMD)
            stack.supervisor.start(
                "celery-beat",
                [*BEAT_CMD, "--schedule", environ["CELERY_BEAT_SCHEDULE_FILENAME"]],
            )
            wait_http(f"{stack.backend_url}/api/", procs=stack.supervisor.procs)

            values = production_values(
                LISTEN_PORT=f"127.0.0.1:{port}",
                BACKEND_UPSTREAM=f"127.0.0.1:{gunicorn_port}",
                SPA_ROOT=str(SPA_DIR),
                STATIC_ROOT=str(run_dir / "static"),
                CSP_EXTRA_SOURCES=args.csp_extra_sources,
            )
            conf = write_nginx_config(run_dir / "nginx", values, devtools=True, log_dir=log_dir)
            result = nginx_test(conf)
            if result.returncode != 0:
                raise RuntimeError(f"nginx -t refused {conf}:\n{result.stdout}{result.stderr}")
            stack.supervisor.start("nginx", nginx_command(conf), stop_signal=signal.SIGQUIT)
            wait_http(f"{site}/index.html", procs=stack.supervisor.procs)

            fake.register_webhook(f"{site}/api/stripe-webhooks/", webhook_secret)
            say(
                f"the Stripe stand-in sends its webhooks to {site}/api/stripe-webhooks/ (via NGINX)"
            )
            status, _, body = http("GET", f"{site}/api/stripe/config/")
            if status != 200:
                raise RuntimeError(
                    f"GET /api/stripe/config/ through NGINX: {status} {body[:300]!r}"
                )

            info = ready_info(
                stack, fake_secret=fake.secret_key, fake_publishable=fake.publishable_key
            )
            if args.smoke:
                say("smoke checks through NGINX")
                passed, failures = smoke(stack)
                print(f"stack smoke: {passed} passed, {len(failures)} failed", flush=True)
                return 1 if failures else 0
            if ready_file:
                write_ready_file(ready_file, info)
            print(
                f"\n  Open {site}/   (NGINX -> gunicorn {stack.backend_url}, production settings"
                " + stand-ins)\n"
                f"  API docs {site}/api/docs/   logs {log_dir}/   e-mails {site}/_dev/mailbox/\n"
                "  Stripe: offline stand-in, card 4242 4242 4242 4242; LinkedIn: the dev stand-in\n"
                + (f"  ready file: {ready_file}\n" if ready_file else "")
                + "  Ctrl-C stops everything.\n",
                flush=True,
            )
            while (dead := stack.supervisor.first_exited()) is None:
                time.sleep(0.5)
            raise RuntimeError(f"{dead.name} exited with {dead.popen.returncode}:\n{dead.tail()}")
        except Stop as stop:
            print()
            say(f"{stop}: stopping")
            return 0
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
            print(f"make stack: {error}", file=sys.stderr, flush=True)
            return 1
        finally:
            if ready_file:
                ready_file.unlink(missing_ok=True)
            # Our processes first (NGINX, beat, worker, gunicorn), then the ExitStack's
            # stand-in, Redis and PostgreSQL. Signals may not cut this short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if stack is not None:
                stack.supervisor.stop_all()
            say("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="NGINX port (0 = a free one)")
    parser.add_argument("--ready-file", help="write a JSON file with the URLs once ready")
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "stack"), help="process logs")
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn workers (GUNICORN_WORKERS)"
    )
    parser.add_argument(
        "--csp-extra-sources",
        default="'self'",
        help="CSP_EXTRA_SOURCES of the NGINX template (production: empty). Default 'self' "
        "for the same-origin Stripe stand-in",
    )
    parser.add_argument("--smoke", action="store_true", help="run the checks through NGINX, stop")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
