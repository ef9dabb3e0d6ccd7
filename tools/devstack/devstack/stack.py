"""`make stack`: the production topology on one machine, without Docker.

    python -m devtools.stack [--port 0] [--ready-file PATH] [--workers 3] [--smoke]
    python -m devtools.stack nginx-test                   (make lint-deploy)
    python -m devtools.stack render DIR [--stack]         (the rendered NGINX config, to read)

The same pieces as docker-compose.yml, from Debian's packages and this repo's own files:

    NGINX  (nginx/templates/default.conf.template, rendered like the nginx image does)
      ├── the built SPA (frontend/dist/spa), /static/ (collectstatic into the run folder)
      └── /api/ /auth/ /admin/ → gunicorn (config/gunicorn.py, the image's command)
    PostgreSQL + Redis (devtools.services, throw-away, free ports)
    Celery worker and beat (the image's commands)

with the production settings, except that the two stand-ins replace the two outside services:
the offline Stripe (devtools/fakestripe, its webhooks registered to NGINX's
``/api/stripe-webhooks/``) and the dev LinkedIn (``/_dev/oidc/``). Production settings refuse
stand-ins, so the processes run ``config.settings.stack`` (production + ``DEVTOOLS_ALLOWED``,
loadable only with ``OPENSEC_STACK_E2E=1``, plain http on loopback; docs/deploy.md).

Start-up runs collectstatic, migrate, createcachetable, create_stripe_data and
load_13f --demo, then prints the URL and, with ``--ready-file``, writes a JSON file (see
``ready_info``) once every part answers. Ctrl-C or SIGTERM stops everything it started, in
order; the logs stay in ``--log-dir`` (default var/stack/).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent
ROOT = BACKEND.parent
NGINX_DIR = ROOT / "nginx"
SERVER_TEMPLATE = NGINX_DIR / "templates" / "default.conf.template"
MAIN_TEMPLATE = NGINX_DIR / "stack" / "nginx.conf.template"
DEVTOOLS_LOCATIONS = NGINX_DIR / "stack" / "devtools.conf"
SPA_DIR = ROOT / "frontend" / "dist" / "spa"
PY = sys.executable

#: The variables of nginx/templates/default.conf.template (nginx/README.md).
TEMPLATE_VARIABLES = (
    "LISTEN_PORT",
    "SERVER_NAME",
    "BACKEND_UPSTREAM",
    "SPA_ROOT",
    "STATIC_ROOT",
    "FORWARDED_PROTO",
    "CSP_EXTRA_SOURCES",
    "EXTRA_CONF_DIR",
    "ACCESS_LOG",
)
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

# The commands of backend/Dockerfile and docker-compose.yml (with this venv's Python).
GUNICORN_CMD = [PY, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi:application"]
WORKER_CMD = [
    *(PY, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO"),
    *("--concurrency=2", "--without-gossip", "--without-mingle"),
]
BEAT_CMD = [PY, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]


def say(message: str) -> None:
    print(f"+ {message}", flush=True)


# --- NGINX config -------------------------------------------------------------------------


def render(text: str, values: Mapping[str, str]) -> str:
    """``${NAME}`` replaced by ``values[NAME]``, like the nginx image's envsubst step.

    Only ``${NAME}`` with braces is a template variable (nginx's own ``$uri``... are left
    alone). A ``${NAME}`` without a value is an error here; the image would leave it in and
    NGINX would refuse the file.
    """
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise KeyError(f"no value for template variable(s): {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def production_values(**overrides: str) -> dict[str, str]:
    """The values nginx/Dockerfile sets, i.e. what production renders."""
    values = {
        "LISTEN_PORT": "80",
        "SERVER_NAME": "_",
        "BACKEND_UPSTREAM": "backend:8000",
        "SPA_ROOT": "/usr/share/nginx/html",
        "STATIC_ROOT": "/srv/static",
        "FORWARDED_PROTO": "$scheme",
        "CSP_EXTRA_SOURCES": "",
        "EXTRA_CONF_DIR": "/etc/nginx/opensec.d",
        "ACCESS_LOG": "/dev/stdout",
    }
    values.update(overrides)
    return values


def write_nginx_config(
    run_dir: Path, values: Mapping[str, str], *, devtools: bool, log_dir: Path | None = None
) -> Path:
    """Render the main file and the server config under ``run_dir``; the main file's path.

    ``run_dir`` gets nginx.conf, conf.d/default.conf, extra/ (EXTRA_CONF_DIR: the stand-ins'
    routes when ``devtools``) and tmp/; the access and error logs go to ``log_dir`` (default
    ``run_dir``/logs). EXTRA_CONF_DIR and ACCESS_LOG of ``values`` are replaced accordingly.
    """
    run_dir = Path(run_dir)
    for sub in ("conf.d", "extra", "tmp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    if log_dir is None:
        logs.mkdir(exist_ok=True)
    elif not logs.exists():
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        logs.symlink_to(Path(log_dir).resolve(), target_is_directory=True)
    values = {
        **values,
        "EXTRA_CONF_DIR": str(run_dir / "extra"),
        "ACCESS_LOG": str(logs / "nginx-access.log"),
    }
    server = render(SERVER_TEMPLATE.read_text(), values)
    (run_dir / "conf.d" / "default.conf").write_text(server)
    if devtools:
        shutil.copyfile(DEVTOOLS_LOCATIONS, run_dir / "extra" / "devtools.conf")
    main = render(MAIN_TEMPLATE.read_text(), {"NGINX_RUN_DIR": str(run_dir)})
    conf = run_dir / "nginx.conf"
    conf.write_text(main)
    # As root, NGINX's workers run as `nobody`: they must reach the temp and static folders.
    for path in (run_dir, *(p for p in run_dir.rglob("*") if p.is_dir())):
        path.chmod(0o755)
    return conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise RuntimeError("nginx is not installed: scripts/apt-ensure nginx (make stack does).")
    return found


def nginx_command(conf: Path, *, test: bool = False) -> list[str]:
    run_dir = conf.parent
    globals_ = (
        f"pid {run_dir / 'nginx.pid'};" if test else f"daemon off; pid {run_dir / 'nginx.pid'};"
    )
    command = [nginx_binary(), "-p", str(run_dir), "-e", str(run_dir / "logs" / "nginx-error.log")]
    command += ["-c", str(conf), "-g", globals_]
    return [*command, "-t", "-q"] if test else command


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on a rendered config (stdout+stderr in the result)."""
    return subprocess.run(
        nginx_command(conf, test=True), capture_output=True, text=True, check=False
    )


def nginx_test_production() -> int:
    """`make lint-deploy`: the production rendering of the template passes ``nginx -t``.

    The upstream is an address (``backend`` resolves only inside compose) and the folders
    are temp ones; every directive, map and header is the production one.
    """
    with tempfile.TemporaryDirectory(prefix="opensec-nginx-t-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "spa").mkdir()
        (run_dir / "static").mkdir()
        values = production_values(
            BACKEND_UPSTREAM="127.0.0.1:8000",
            SPA_ROOT=str(run_dir / "spa"),
            STATIC_ROOT=str(run_dir / "static"),
            LISTEN_PORT="127.0.0.1:8080",
        )
        conf = write_nginx_config(run_dir, values, devtools=False)
        result = nginx_test(conf)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0:
            print(f"nginx -t: the production config is refused:\n{output}", file=sys.stderr)
            return 1
        if output:
            print(output)
        print(f"nginx -t: {SERVER_TEMPLATE.relative_to(ROOT)} (production values) is valid")
    return 0


# --- Processes ------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if this runner dies (even by SIGKILL): no orphans."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Stack:
    """Handles of a running stack (what ``ready_info`` reports)."""

    url: str
    backend_url: str
    run_dir: Path
    log_dir: Path
    environ: dict[str, str]
    fake_url: str
    webhook_secret: str
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, command: list[str], *, stop_signal: int = signal.SIGTERM) -> Proc:
        log = self.log_dir / f"{name}.log"
        out = open(log, "ab")  # noqa: SIM115  (owned by the child, closed below)
        try:
            popen = subprocess.Popen(
                command,
                cwd=BACKEND,
                env=self.environ,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C reaches this runner only, which stops them in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        proc = Proc(name, popen, log, stop_signal)
        self.procs.append(proc)
        say(f"{name} (pid {popen.pid}): {' '.join(_short(command))}  [log: {log}]")
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(proc.stop_signal)
        deadline = time.monotonic() + 20
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{proc.name} did not stop in time: SIGKILL")
                proc.popen.kill()
                proc.popen.wait()


def _short(command: list[str]) -> list[str]:
    return ["python" if part == PY else part for part in command]


def wait_http(url: str, *, procs: list[Proc], timeout: float = 60) -> None:
    """Until ``url`` answers at all (any HTTP status), or a process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}"
                )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def manage(environ: Mapping[str, str], *args: str) -> None:
    say("manage.py " + " ".join(args))
    subprocess.run([PY, "manage.py", *args], cwd=BACKEND, env=dict(environ), check=True)


# --- Checks (--smoke, and what the docs' curl lines show) -----------------------------------


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``body``, as Stripe makes it."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def _headers(message: Message) -> dict[str, str]:
    """Lower-case names; a header sent twice becomes "a, b" (so duplicates show)."""
    joined: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def http(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request without redirects or cookies: (status, headers, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, _headers(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, _headers(error.headers), error.read()


def smoke(stack: Stack) -> tuple[int, list[str]]:
    """Checks through NGINX of what production relies on: (passed, failures)."""
    failures: list[str] = []
    passed = 0

    def check(ok: bool, what: str) -> None:
        nonlocal passed
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if ok:
            passed += 1
        else:
            failures.append(what)

    url = stack.url
    status, headers, body = http("GET", f"{url}/")
    check(status == 200 and b"q-app" in body, "GET / is the SPA")
    check(headers.get("cache-control") == "no-cache", "index.html: Cache-Control no-cache")
    csp = headers.get("content-security-policy", "")
    check("https://js.stripe.com" in csp and "frame-ancestors 'none'" in csp, "CSP header")
    check("max-age=31536000" in headers.get("strict-transport-security", ""), "HSTS header")
    asset = re.search(rb'src="?(/assets/[^" >]+\.js)', body)
    if asset:
        status, headers, _ = http("GET", url + asset.group(1).decode())
        check(status == 200 and "immutable" in headers.get("cache-control", ""), "assets immutable")
        status, headers, _ = http(
            "GET", url + asset.group(1).decode(), headers={"Accept-Encoding": "gzip"}
        )
        check(headers.get("content-encoding") == "gzip", "assets gzip")
    else:
        check(False, "index.html names an /assets/ script")
    status, _, body = http("GET", f"{url}/filers/0001067983")
    check(status == 200 and b"q-app" in body, "history fallback: /filers/<cik> is index.html")
    status, _, _ = http("GET", f"{url}/assets/missing-file.js")
    check(status == 404, "missing asset: 404, not index.html")

    status, headers, body = http("GET", f"{url}/api/stripe/config/")
    config = json.loads(body or b"{}") if status == 200 else {}
    check(
        status == 200 and config.get("publishable_key", "").startswith("pk_"), "/api/stripe/config/"
    )
    check(headers.get("x-frame-options") == "DENY", "one X-Frame-Options on API answers")
    status, headers, body = http("GET", f"{url}/api/filers/")
    check(
        status == 200 and "x-ratelimit-limit" in headers, "/api/filers/ (guest, with quota headers)"
    )
    status, _, body = http("GET", f"{url}/static/admin/css/base.css")
    check(status == 200 and len(body) > 100, "/static/ (collected) served by NGINX")
    status, _, _ = http("GET", f"{url}/admin/login/")
    check(status == 200, "/admin/ proxied")
    status, _, body = http("GET", f"{url}/_dev/oidc/.well-known/openid-configuration")
    check(status == 200 and url.encode() in body, "dev LinkedIn discovery through NGINX")
    status, _, _ = http("GET", f"{url}/js.stripe.com/v3/")
    check(status == 200, "Stripe.js stand-in through NGINX")

    # A webhook whose bytes any re-encoding would change: the signature covers them exactly.
    text = (
        '{"id": "EVENT_ID",  "object":"event", "type":"opensec.stack.check",\n'
        '  "created": CREATED, "data": {"object": {"note": "caf\\u00e9 \u00e9\u00e8 \u2713  '
        'tabs\\tand\\nnewlines"}}}\r\n'
    )
    text = text.replace("EVENT_ID", f"evt_stack_{secrets.token_hex(6)}")
    raw = text.replace("CREATED", str(int(time.time()))).encode()
    hook = f"{url}/api/stripe-webhooks/"
    signed = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(raw, stack.webhook_secret),
    }
    status, _, answer = http("POST", hook, raw, signed)
    check(status == 200, f"signed webhook through NGINX: 200 ({status} {answer[:120]!r})")
    status, _, _ = http("POST", hook, raw, signed)
    check(status == 200, "same event again: 200 (not processed twice)")
    forged = {**signed, "Stripe-Signature": sign(raw, "whsec_not_the_secret_at_all_0000")}
    status, _, _ = http("POST", hook, raw, forged)
    check(status == 400, "forged signature: 400")
    tampered = raw.replace(b"  ", b" ", 1)
    status, _, _ = http("POST", hook, tampered, signed)
    check(status == 400, "one byte changed: 400 (so the 200 above got the bytes as sent)")
    return passed, failures


# --- The stack ------------------------------------------------------------------------------


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
    from config.settings.local import DEV_OIDC_CLIENT_ID, DEV_OIDC_CLIENT_SECRET

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
            "TRUSTED_PROXY_COUNT": "1",
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
    env = stack.environ
    return {
        "url": stack.url,
        "backend_url": stack.backend_url,
        "settings": env["DJANGO_SETTINGS_MODULE"],
        "pid": os.getpid(),
        "pids": {proc.name: proc.popen.pid for proc in stack.procs},
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
        "log_dir": str(stack.log_dir),
        "nginx_config": str(stack.run_dir / "nginx" / "nginx.conf"),
    }


def write_ready_file(path: Path, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(path)  # atomic: a reader sees nothing or the whole file


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
    from devtools.fakestripe.launcher import FakeStripe
    from devtools.services import free_port, postgres_server, redis_server

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
            stack = Stack(
                url=site,
                backend_url=f"http://127.0.0.1:{gunicorn_port}",
                run_dir=run_dir,
                log_dir=log_dir,
                environ=environ,
                fake_url=fake.url,
                webhook_secret=webhook_secret,
            )
            quiet = {**environ, "OPENSEC_STACK_QUIET": "1"}
            say("config.settings.stack: production settings + the offline stand-ins (TEST-ONLY)")
            manage(quiet, "collectstatic", "--noinput", "-v", "0")
            manage(quiet, "migrate", "--noinput", "-v", "0")
            manage(quiet, "createcachetable")
            manage(quiet, "create_stripe_data")
            manage(quiet, "load_13f", "--demo")

            stack.start("gunicorn", GUNICORN_CMD)
            stack.start("celery-worker", WORKER_CMD)
            stack.start(
                "celery-beat",
                [*BEAT_CMD, "--schedule", environ["CELERY_BEAT_SCHEDULE_FILENAME"]],
            )
            wait_http(f"{stack.backend_url}/api/", procs=stack.procs)

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
            stack.start("nginx", nginx_command(conf), stop_signal=signal.SIGQUIT)
            wait_http(f"{site}/index.html", procs=stack.procs)

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
                f"  API docs {site}/api/docs/   logs {log_dir}/\n"
                "  Stripe: offline stand-in, card 4242 4242 4242 4242; LinkedIn: the dev stand-in\n"
                + (f"  ready file: {ready_file}\n" if ready_file else "")
                + "  Ctrl-C stops everything.\n",
                flush=True,
            )
            while True:
                for proc in stack.procs:
                    if proc.popen.poll() is not None:
                        raise RuntimeError(
                            f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}"
                        )
                time.sleep(0.5)
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
                stack.stop_all()
            say("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
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
    sub.add_parser("nginx-test", help="nginx -t on the production rendering of the template")
    render_parser = sub.add_parser("render", help="write the rendered NGINX config into DIR")
    render_parser.add_argument("dir")
    render_parser.add_argument("--stack", action="store_true", help="with the stand-ins' routes")
    args = parser.parse_args(argv)

    if args.command == "nginx-test":
        return nginx_test_production()
    if args.command == "render":
        conf = write_nginx_config(Path(args.dir), production_values(), devtools=args.stack)
        print(conf)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
