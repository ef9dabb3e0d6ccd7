"""Plain helpers of the quotas tests: real servers for the tests that need them (a throw-away
redis-server, gunicorn on a free port). Fixtures are in conftest.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import ServiceMissing, free_port, redis_server, stop, wait_for_port

BACKEND = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    """devstack's throw-away redis-server (yields its URL); skips the test when Redis is not
    installed."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(redis_server())
        except ServiceMissing as exc:
            pytest.skip(str(exc))
        yield url


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        VAR_DIR=str(var_dir),
        DATABASE_URL="",  # the SQLite file under VAR_DIR, whatever the test run uses
        REDIS_URL="",
        TRUSTED_PROXIES="",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    for app in ("filings", "quotas"):  # enough for guest requests to the data API
        subprocess.run(
            [sys.executable, "manage.py", "migrate", app, "-v0"],
            cwd=BACKEND,
            env=env,
            check=True,
            timeout=120,
        )


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """One gunicorn process (one sync worker) serving config.wsgi; yields its base URL."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--timeout",
                "30",
            ],
            cwd=BACKEND,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, proc=proc, timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
