"""`make run`: the whole product on one machine, with no account and no server to install.

    python -m devtools.run            (from backend/, with the project's .venv)

Starts, in order: the offline Stripe stand-in (unless ``STRIPE_SECRET_KEY`` is set),
migrations, the Premium price, the demo 13F data, a Celery worker and beat, and Django on
``http://127.0.0.1:$PORT``. Real services take over when their keys/URLs are in the
environment or ``.env``. Ctrl-C (or SIGTERM) stops everything this started.

Options for scripts (browser tests), all optional; without them nothing changes:

* ``--port N``: Django's port instead of ``$PORT`` (8000); ``0`` picks a free one.
* ``--var-dir DIR``: SQLite database, Celery broker and beat schedule, the stand-in's state
  and the dev OIDC key live in DIR instead of ``var/`` (passed to every child as ``VAR_DIR``).
* ``--ready-file PATH``: once Django answers HTTP, write ``{"url": ..., "stripe_url": ...}``
  there (atomically; ``stripe_url`` is null with real Stripe).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from config.env import ROOT_DIR, env  # reads .env into os.environ (environment wins)
from devtools.services import free_port, stop, wait_for_port

BACKEND = Path(__file__).resolve().parent.parent
PY = sys.executable


def say(message: str) -> None:
    print(f"+ {message}", flush=True)


def manage(*args: str, environ: dict[str, str]) -> None:
    say("manage.py " + " ".join(args))
    subprocess.run([PY, "manage.py", *args], cwd=BACKEND, env=environ, check=True)


def wait_for_http(url: str, *, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until ``url`` gets any HTTP answer (runserver may listen before it can answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Django exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # an HTTP answer, even an error one
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} gave no HTTP answer after {timeout}s")


def write_ready_file(path: Path, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(path)


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
    var_dir = Path(os.environ.get("VAR_DIR") or ROOT_DIR / "var")
    environ = dict(os.environ)
    environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ.setdefault("SITE_URL", site)
    var_dir.mkdir(parents=True, exist_ok=True)

    procs: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        offline = not environ.get("STRIPE_SECRET_KEY")
        fake = None
        if offline:
            from devtools.fakestripe.launcher import FakeStripe

            state_dir = var_dir / "fakestripe"  # kept: customers survive a restart
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
                    str(var_dir / "celerybeat-schedule"),
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
        if args.ready_file is not None:
            wait_for_http(f"{site}/api/stripe/config/", proc=server)
            write_ready_file(
                args.ready_file, {"url": site, "stripe_url": fake.url if fake else None}
            )
            say(f"ready: {args.ready_file}")
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
