"""`make fuzz`: Schemathesis over the live OpenAPI schema, as a guest, a free and a premium user.

    .venv/bin/python scripts/fuzz.py [--max-time 60] [--workers 2] [--seed N] [--keep]

1. Starts the product on throw-away state: SQLite and the offline Stripe stand-in in a temp
   folder, migrations, the Premium price, the demo 13F filings, then gunicorn (the production
   server, ``config/gunicorn.py``) with the local settings and ``DEBUG`` off, on a free port.
   Quotas and rate limits are raised so the fuzzer reaches the code behind them (their 429s
   have tests of their own); everything else is as in ``make run``.
2. Creates a free and a premium user the way the tests do (the premium one buys with
   ``pm_card_visa``, so a real subscription exists in the stand-in) and an access token each.
3. Runs ``schemathesis run <url>/api/schema/ --checks all`` once per role, the three side by
   side (guest: no header; free, premium: ``Authorization: Bearer``), each against the
   committed baseline
   ``scripts/fuzz-baseline.json``: findings listed there were accepted, each with its
   ``reason``; anything else fails the run. Every entry must have a reason.
4. Writes ``var/test-results/fuzz.json`` (``{"passed", "failed", "skipped": 0, ...}``, one case
   per role and operation; ``scripts/summarize.py`` adds it to make test's closing line), the
   Schemathesis reports under ``var/test-results/fuzz/<role>/``, and prints
   ``fuzz: N passed, N failed``. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from devstack import migrated
from devstack.processes import free_port, wait_http
from fakestripe.launcher import FakeStripe

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
PY = sys.executable
SCHEMATHESIS = str(Path(PY).with_name("schemathesis"))
BASELINE = ROOT / "scripts" / "fuzz-baseline.json"
RESULTS = ROOT / "var" / "test-results"
ROLES = ("guest", "free", "premium")

# Run in ``manage.py shell``: the two users and their access tokens, as JSON on the last line.
USERS_SCRIPT = """
import json
from accounts.models import User
from accounts.services import token_pair_issue
from billing import services
free = User.objects.create_user(username="fuzz-free", email="fuzz-free@example.com",
                                name="Fuzz Free")
premium = User.objects.create_user(username="fuzz-premium", email="fuzz-premium@example.com",
                                   name="Fuzz Premium")
bought = services.subscription_create(user=premium, payment_method_id="pm_card_visa")
assert bought.premium, bought
print(json.dumps({"free": token_pair_issue(user=free)["access"],
                  "premium": token_pair_issue(user=premium)["access"]}))
"""


def say(message: str) -> None:
    print(f"+ {message}", flush=True)


def product_environ(var_dir: Path, stripe_url: str, port: int) -> dict[str, str]:
    environ = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "STRIPE_SECRET_KEY"):
        environ.pop(name, None)  # nothing of the developer's own stack
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="false",
        SERVE_SPA="false",
        VAR_DIR=str(var_dir),
        SITE_URL=f"http://127.0.0.1:{port}",
        STRIPE_API_HOST=stripe_url,
        API_QUOTA_GUEST="1000000",
        API_QUOTA_FREE="1000000",
        BILLING_RATE_PURCHASE_USER="100000/hour",
        BILLING_RATE_PURCHASE_IP="100000/hour",
        BILLING_RATE_STRIPE_CALLS_USER="100000/hour",
        BILLING_RATE_STRIPE_READS_USER="100000/hour",
        ACCOUNTS_RATE_TOKEN_ISSUE="100000/hour",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        # In production NGINX refuses an over-long request line (414) before gunicorn; here the
        # fuzzer talks to gunicorn directly, so let the API itself see whatever it sends.
        GUNICORN_LIMIT_REQUEST_LINE="0",
        PYTHONUNBUFFERED="1",
    )
    return environ


def manage(environ: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [PY, "manage.py", *args],
        cwd=BACKEND,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def load_baseline() -> list[dict]:
    """The accepted findings; each must say why it was accepted."""
    if not BASELINE.is_file():
        # Schemathesis would create a missing baseline from the run, accepting everything.
        raise SystemExit(f'fuzz: {BASELINE} is missing (an empty one has "entries": [])')
    entries = json.loads(BASELINE.read_text())["entries"]
    unexplained = [e.get("id", "?") for e in entries if not str(e.get("reason", "")).strip()]
    if unexplained:
        raise SystemExit(f"fuzz: baseline entries without a reason: {', '.join(unexplained)}")
    return entries


def fuzz(
    role: str, url: str, token: str | None, args: argparse.Namespace, out: Path
) -> subprocess.Popen:
    """``schemathesis run`` as ``role``, started (the three roles run side by side)."""
    command = [
        SCHEMATHESIS, "run", f"{url}/api/schema/",
        "--checks", "all",
        "--max-time", str(args.max_time),
        "--workers", str(args.workers),
        "--baseline", str(BASELINE),
        "--report", "junit,json",
        "--report-dir", str(out),
        "--no-color",
    ]  # fmt: skip
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if role == "premium":
        # Cancelling now would end the premium role's Premium within seconds, and the premium
        # data endpoints would only answer 403 for the rest of the run; the free role fuzzes
        # cancel (its user has an open subscription from `{}`), the same code.
        command += ["--exclude-name", "POST /api/stripe/cancel-subscription/"]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    say(f"schemathesis as {role} ({args.max_time} s): report in {out.relative_to(ROOT)}")
    with open(out / "output.txt", "w") as log:
        # The venv's own schemathesis with arguments built here.
        return subprocess.Popen(command, cwd=out, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def count(out: Path) -> tuple[list[str], list[str]]:
    """Operations without and with a finding (JUnit: one test case per operation)."""
    passed: list[str] = []
    failed: list[str] = []
    reports = sorted(out.glob("junit-*.xml"))
    if not reports:
        return passed, ["(no report: schemathesis did not run)"]
    for case in ET.parse(reports[-1]).getroot().iter("testcase"):  # noqa: S314 (our own file)
        bad = case.find("failure") is not None or case.find("error") is not None
        (failed if bad else passed).append(case.get("name", "?"))
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=60, help="seconds of fuzzing per role")
    parser.add_argument("--workers", type=int, default=2, help="schemathesis workers per role")
    parser.add_argument("--seed", type=int, default=None, help="reproduce a run")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    load_baseline()
    results = RESULTS / "fuzz"
    shutil.rmtree(results, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="opensec-fuzz-"))
    var_dir = work / "var"
    var_dir.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    report: dict = {"passed": 0, "failed": 0, "skipped": 0, "roles": {}, "errors": []}
    server: subprocess.Popen | None = None
    try:
        with FakeStripe(state_dir=work / "fakestripe") as fake:
            assert fake.url is not None
            environ = product_environ(var_dir, fake.url, port)
            say(f"throw-away product in {work}: migrate, price, demo filings (about a minute)")
            migrated.migrate(environ, lambda: manage(environ, "migrate", "--noinput", "-v", "0"))
            manage(environ, "createcachetable")
            manage(environ, "create_stripe_data")
            manage(environ, "load_13f", "--demo")
            made = manage(environ, "shell", stdin=USERS_SCRIPT)
            tokens = json.loads(made.strip().splitlines()[-1])
            log = open(work / "gunicorn.log", "wb")  # noqa: SIM115 (closed with the process)
            server = subprocess.Popen(  # noqa: S603 (our interpreter, the image's command)
                [PY, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi:application"],
                cwd=BACKEND, env=environ, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            log.close()
            wait_http(f"{url}/api/stripe/config/", timeout=60)
            say(f"gunicorn ready at {url} after {time.monotonic() - started:.0f} s")
            runs = {}
            for role in ROLES:
                (results / role).mkdir(parents=True)
                runs[role] = fuzz(role, url, tokens.get(role), args, results / role)
            for role, run in runs.items():
                status = run.wait(args.max_time + 300)
                passed, failed = count(results / role)
                if status != 0 and not failed:
                    failed = [f"(schemathesis exit status {status}: see output.txt)"]
                report["roles"][role] = {"passed": passed, "failed": failed, "exit": status}
                report["passed"] += len(passed)
                report["failed"] += len(failed)
                say(f"{role}: {len(passed)} operations clean, {len(failed)} with findings")
                for name in failed:
                    print(f"    {name}")
    except Exception as exc:  # a stack that never came up counts as a failure
        report["errors"].append(f"{exc.__class__.__name__}: {exc}")
        report["failed"] += 1
        print(f"fuzz: {exc}", file=sys.stderr)
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(20)
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report["durationSeconds"] = round(time.monotonic() - started)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(report, indent=2) + "\n")
    say(f"report: {(RESULTS / 'fuzz.json').relative_to(ROOT)} ({report['durationSeconds']} s)")
    print(f"fuzz: {report['passed']} passed, {report['failed']} failed")
    return 1 if report["failed"] or not report["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
