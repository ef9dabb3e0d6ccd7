"""The Supervisor's restart policy (``make chaos``): Compose's ``restart: unless-stopped``,
with real child processes killed by real signals."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import PostgresServer, RedisServer, ServiceMissing, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(dict(os.environ), tmp_path, restart=True)
    yield sup
    sup.stop_all(timeout=5)


def watch_until(sup: Supervisor, check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not restarted in time"
        sup.watch()
        time.sleep(0.02)


def test_a_killed_process_is_started_again_with_a_growing_back_off(supervisor):
    proc = supervisor.start("sleeper", SLEEPER)
    first = proc.popen.pid
    os.kill(first, signal.SIGKILL)
    watch_until(supervisor, lambda: proc.restarts == 1)
    second = proc.popen.pid
    assert second != first and proc.popen.poll() is None
    os.kill(second, signal.SIGKILL)
    killed_at = time.monotonic()
    watch_until(supervisor, lambda: proc.restarts == 2)
    # Docker's back-off: 100 ms, then 200 ms (the process had not run 10 s in between).
    assert time.monotonic() - killed_at >= 0.2
    assert proc.delay == pytest.approx(0.4)


def test_a_process_stopped_on_purpose_stays_down_until_resumed(supervisor):
    proc = supervisor.start("sleeper", SLEEPER)
    supervisor.stop("sleeper")
    for _ in range(20):
        assert supervisor.watch() == []
        time.sleep(0.02)
    assert proc.popen.poll() is not None and proc.restarts == 0
    supervisor.resume("sleeper")
    assert proc.popen.poll() is None and proc.restarts == 1
    # and it is restarted again when it dies after the resume
    os.kill(proc.popen.pid, signal.SIGKILL)
    watch_until(supervisor, lambda: proc.restarts == 2)


def test_without_the_policy_a_dead_process_stops_the_runner(tmp_path):
    sup = Supervisor(dict(os.environ), tmp_path)
    try:
        proc = sup.start("sleeper", SLEEPER)
        os.kill(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(5)
        assert sup.watch() == [] and sup.first_exited() is proc
    finally:
        sup.stop_all(timeout=5)


def test_redis_and_postgresql_come_back_on_the_same_port_with_their_data():
    try:
        redis, postgres = RedisServer(appendonly=True).start(), PostgresServer().start()
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    try:
        import psycopg2
        import redis as redis_py

        redis_py.Redis.from_url(redis.url).set("kept", "yes")
        redis.kill()  # SIGKILL: the append-only file has it
        redis.start()
        assert redis_py.Redis.from_url(redis.url).get("kept") == b"yes"

        with psycopg2.connect(postgres.url) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('yes')")
        conn.close()
        postgres.stop()
        postgres.start()
        with psycopg2.connect(postgres.url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT v FROM kept")
            assert cursor.fetchall() == [("yes",)]
        conn.close()
    finally:
        redis.close()
        postgres.close()
