"""`make run`: the whole product on one machine, with no account and no server to install.

    cd backend && python -m devstack.run       (with the project's .venv; `make run`)

Starts, in order: the offline Stripe stand-in (unless ``STRIPE_SECRET_KEY`` is set),
migrations, the Premium prices and the demo promotion code WELCOME50, the demo 13F data, the
dev mail server (unless ``EMAIL_HOST`` is set; its Maildir ``<var dir>/mailbox`` is shown at
``/_dev/mailbox/``), a Celery worker and beat, and Django on ``http://127.0.0.1:$PORT``. Real
services take over when their keys/URLs are in the environment or ``.env``. Ctrl-C (or SIGTERM)
stops everything this started.

Options for scripts (browser tests), all optional; without them nothing changes:

* ``--port N``: Django's port instead of ``$PORT`` (8000); ``0`` picks a free one.
* ``--var-dir DIR``: SQLite database, Celery broker and beat schedule, the stand-in's state
  and the dev OIDC key live in DIR instead of ``var/`` (passed to every child as ``VAR_DIR``).
* ``--ready-file PATH``: once Django answers HTTP, write ``{"url": ..., "stripe_url": ...,
  "mailbox_url": ..., "pids": {"mail": ..., "celery": ..., "django": ...}}`` there
  (atomically; ``stripe_url`` is null with real Stripe, ``mailbox_url`` with a real
  ``EMAIL_HOST``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# The project's one reader of the environment: it loads .env into os.environ (the
# environment wins), so this runner and every child see the same settings.
from config.env import env
from devstack import mailserver, migrated
from devstack.paths import PY, ROOT, say
from devstack.processes import (
    Supervisor,
    free_port,
    manage,
    wait_for_port,
    wait_http,
    write_ready_file,
)
from devtools.offline import OFFLINE_STRIPE_WEBHOOK_SECRET
from fakestripe.launcher import FakeStripe


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="Django's port (0: a free one)")
    parser.add_argument("--var-dir", type=Path, default=None, help="instead of var/ (VAR_DIR)")
    parser.add_argument("--ready-file", type=Path, default=None, help="JSON {url, stripe_url}")
    return parser.parse_args(argv)


def _sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    port = env.int("PORT", default=8000) if args.port is None else args.port
    if port == 0:
        port = free_port()
    site = f"http://127.0.0.1:{port}"
    if args.var_dir is not None:
        # Settings read VAR_DIR from the environment: this process's (imported below) and
        # every child's.
        os.environ["VAR_DIR"] = str(args.var_dir.resolve())
    var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
    environ = dict(os.environ)
    environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ.setdefault("SITE_URL", site)
    var_dir.mkdir(parents=True, exist_ok=True)

    with contextlib.ExitStack() as stack:
        offline = not environ.get("STRIPE_SECRET_KEY")
        fake = None
        if offline:
            state_dir = var_dir / "fakestripe"  # kept: customers survive a restart
            state_dir.mkdir(parents=True, exist_ok=True)
            # Its hosted pages (invoice page/PDF, billing portal) reach the browser through the
            # app's dev proxy, /_dev/_stripe/ (backend/devtools/stripe_proxy.py).
            public_url = environ["SITE_URL"].rstrip("/") + "/_dev"
            fake = stack.enter_context(FakeStripe(state_dir=state_dir, public_url=public_url))
            assert fake.url is not None
            environ["STRIPE_API_HOST"] = fake.url
            say(f"offline Stripe stand-in at {fake.url} (set STRIPE_SECRET_KEY to use Stripe)")
        else:
            say("using Stripe with the STRIPE_SECRET_KEY from the environment/.env")

        migrated.migrate(environ, lambda: manage(environ, "migrate", "--noinput", "-v", "0"))
        manage(environ, "createcachetable")
        # The demo promotion code WELCOME50 too (a test key or the stand-in; the command
        # refuses it with a live key, which is left without it).
        demo = (
            []
            if environ.get("STRIPE_SECRET_KEY", "").startswith("sk_live_")
            else ["--demo-promotion-code"]
        )
        manage(environ, "create_stripe_data", *demo)
        with contextlib.suppress(subprocess.CalledProcessError):
            manage(environ, "load_13f", "--demo")

        if fake is not None:
            secret = environ.get("STRIPE_WEBHOOK_SECRET") or OFFLINE_STRIPE_WEBHOOK_SECRET
            fake.register_webhook(f"{site}/api/stripe-webhooks/", secret)
            say(f"the stand-in sends its webhooks to {site}/api/stripe-webhooks/")

        # E-mails go to the dev mail server on loopback, unless EMAIL_HOST names a real relay.
        mail_port = None if environ.get("EMAIL_HOST") else free_port()
        if mail_port is not None:
            maildir = var_dir / "mailbox"  # kept, like the database the mails came from
            environ.update(mailserver.app_environ(port=mail_port, maildir=maildir))
        supervisor = Supervisor(environ)  # output to this terminal
        if mail_port is not None:
            mail = supervisor.start("mail", mailserver.command(maildir=maildir, port=mail_port))
            wait_for_port(mail_port, proc=mail.popen)
            say(
                f"e-mails go to the dev mail server 127.0.0.1:{mail_port} (set EMAIL_HOST for SMTP)"
            )
        else:
            say(f"e-mails go to EMAIL_HOST={environ['EMAIL_HOST']} (the dev mail server is off)")
        mailbox_url = f"{site}/_dev/mailbox/" if mail_port is not None else None
        supervisor.start(
            "celery",
            [
                *(PY, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO"),
                *("--concurrency=2", "--without-gossip", "--without-mingle"),
                *("--beat", "--schedule", str(var_dir / "celerybeat-schedule")),
            ],
            stop_signal=signal.SIGINT,
        )
        server = supervisor.start(
            "django",
            [PY, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            stop_signal=signal.SIGINT,
        )
        wait_for_port(port, proc=server.popen, timeout=60)
        if args.ready_file is not None:
            wait_http(f"{site}/api/stripe/config/", procs=supervisor.procs)
            write_ready_file(
                args.ready_file,
                {
                    "url": site,
                    "stripe_url": fake.url if fake else None,
                    "mailbox_url": mailbox_url,
                    "pids": {proc.name: proc.popen.pid for proc in supervisor.procs},
                },
            )
            say(f"ready: {args.ready_file}")
        stripe_note = "offline stand-in, card 4242 4242 4242 4242" if offline else "test mode"
        print(
            f"\n  Open {site}/  (API docs: {site}/api/docs/, admin: {site}/admin/)\n"
            + (f"  E-mails sent: {mailbox_url}\n" if mailbox_url else "")
            + f"  Stripe: {stripe_note}\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        try:
            while (dead := supervisor.first_exited()) is None:
                time.sleep(0.5)
            say(f"{dead.name} stopped (exit {dead.popen.returncode}); stopping the rest")
        except KeyboardInterrupt:
            print()
            say("stopping")
        finally:
            supervisor.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
