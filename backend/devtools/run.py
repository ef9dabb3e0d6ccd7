"""`make run`: the whole product on one machine, with no account and no server to install.

    python -m devtools.run            (from backend/, with the project's .venv)

Starts, in order: the offline Stripe stand-in (unless ``STRIPE_SECRET_KEY`` is set),
migrations, the Premium price, the demo 13F data, a Celery worker and beat, and Django on
``http://127.0.0.1:$PORT``. Real services take over when their keys/URLs are in the
environment or ``.env``. Ctrl-C stops everything this started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.env import ROOT_DIR, env  # reads .env into os.environ (environment wins)
from devtools.services import stop, wait_for_port

BACKEND = Path(__file__).resolve().parent.parent
PY = sys.executable


def say(message: str) -> None:
    print(f"+ {message}", flush=True)


def manage(*args: str, environ: dict[str, str]) -> None:
    say("manage.py " + " ".join(args))
    subprocess.run([PY, "manage.py", *args], cwd=BACKEND, env=environ, check=True)


def main() -> int:
    port = env.int("PORT", default=8000)
    site = f"http://127.0.0.1:{port}"
    environ = dict(os.environ)
    environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ.setdefault("SITE_URL", site)
    (ROOT_DIR / "var").mkdir(exist_ok=True)

    procs: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        offline = not environ.get("STRIPE_SECRET_KEY")
        fake = None
        if offline:
            from devtools.fakestripe.launcher import FakeStripe

            state_dir = ROOT_DIR / "var" / "fakestripe"  # kept: customers survive a restart
            state_dir.mkdir(parents=True, exist_ok=True)
            fake = stack.enter_context(FakeStripe(state_dir=state_dir))
            assert fake.url is not None
            environ["STRIPE_API_HOST"] = fake.url
            say(f"offline Stripe stand-in at {fake.url} (set STRIPE_SECRET_KEY to use Stripe)")
        else:
            say("using Stripe with the STRIPE_SECRET_KEY from the environment/.env")

        manage("migrate", "--noinput", "-v", "0", environ=environ)
        manage("createcachetable", environ=environ)
        manage("create_stripe_data", environ=environ)
        with contextlib.suppress(subprocess.CalledProcessError):
            manage("load_13f", "--demo", environ=environ)

        if fake is not None:
            from config.settings.local import OFFLINE_STRIPE_WEBHOOK_SECRET

            secret = environ.get("STRIPE_WEBHOOK_SECRET") or OFFLINE_STRIPE_WEBHOOK_SECRET
            fake.register_webhook(f"{site}/api/stripe-webhooks/", secret)
            say(f"the stand-in sends its webhooks to {site}/api/stripe-webhooks/")

        celery = [PY, "-m", "celery", "-A", "config"]
        say("celery worker and beat")
        procs.append(
            subprocess.Popen(
                [
                    *celery,
                    "worker",
                    "--loglevel=INFO",
                    "--concurrency=2",
                    "--without-gossip",
                    "--without-mingle",
                    "--beat",
                    "--schedule",
                    str(ROOT_DIR / "var" / "celerybeat-schedule"),
                ],
                cwd=BACKEND,
                env=environ,
            )
        )
        say(f"Django on {site}")
        server = subprocess.Popen(
            [PY, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=BACKEND,
            env=environ,
        )
        procs.append(server)
        wait_for_port(port, proc=server, timeout=60)
        print(
            f"\n  Open {site}/  (API docs: {site}/api/docs/, admin: {site}/admin/)\n"
            f"  Stripe: {'offline stand-in, card 4242 4242 4242 4242' if offline else 'test mode'}"
            "\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
            say("a process stopped; stopping the rest")
        except KeyboardInterrupt:
            print()
            say("stopping")
        finally:
            for proc in reversed(procs):
                stop(proc, sig=signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
