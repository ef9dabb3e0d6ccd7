"""Real servers for the tests that need them: redis-server and gunicorn on free ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import free_port, redis_server, stop, wait_for_port

BACKEND = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    """A throw-away redis-server; skips the test when Redis is not installed."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (`make apt` installs it)")
    with redis_server() as url:
        yield url


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        VAR_DIR=str(var_dir),
        DATABASE_URL="",  # the SQLite file under VAR_DIR, whatever the test run uses
        REDIS_URL="",
        TRUSTED_PROXY_COUNT="0",
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
