"""Start real Redis and PostgreSQL servers on free loopback ports, for tests and `make run`.

    python -m devtools.services [--redis] [--postgres] -- COMMAND...

runs COMMAND with ``REDIS_URL`` / ``DATABASE_URL`` pointing at fresh servers in a temp
dir, then stops them (also on Ctrl-C) and exits with COMMAND's status. The binaries come
from Debian's packages (``make apt`` installs them); nothing is left running.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, proc: subprocess.Popen | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(proc: subprocess.Popen, *, timeout: float = 10, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server; yields its URL."""
    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server is not installed (run `make apt`).")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="opensec-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (run `make apt`).")
    return path


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster (fsync off); yields a DATABASE_URL.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the
    ``postgres`` user that Debian's package creates.
    """
    as_root = os.geteuid() == 0
    workdir = Path(tempfile.mkdtemp(prefix="opensec-pg-"))
    data, sockets = workdir / "data", workdir / "run"
    sockets.mkdir()
    run_as: dict = {}
    if as_root:
        pw = pwd.getpwnam("postgres")
        for path in (workdir, sockets):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    log = open(workdir / "postgres.log", "wb")  # noqa: SIM115
    if as_root:
        os.chown(workdir / "postgres.log", pw.pw_uid, pw.pw_gid)
    subprocess.run(
        [
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        ],
        check=True,
        stdout=log,
        stderr=log,
        **run_as,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            _pg_bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(sockets),
            "-F",
            "-c",
            "max_connections=100",
            "-c",
            "log_min_messages=warning",
        ],
        stdout=log,
        stderr=log,
        **run_as,
    )
    try:
        wait_for_port(port, proc=proc)
        time.sleep(0.2)
        subprocess.run(
            [
                _pg_bin("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "opensecdata",
            ],
            check=True,
        )
        yield f"postgres://postgres@127.0.0.1:{port}/opensecdata"
    finally:
        # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
        stop(proc, sig=signal.SIGINT)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", action="store_true", help="start redis-server, set REDIS_URL")
    parser.add_argument(
        "--postgres", action="store_true", help="start PostgreSQL, set DATABASE_URL"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if args.redis:
            env["REDIS_URL"] = stack.enter_context(redis_server())
            print(f"+ redis-server at {env['REDIS_URL']}", flush=True)
        if args.postgres:
            env["DATABASE_URL"] = stack.enter_context(postgres_server())
            print(f"+ PostgreSQL at {env['DATABASE_URL']}", flush=True)
        proc = subprocess.Popen(command, env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            stop(proc)
            return 130


if __name__ == "__main__":
    sys.exit(main())
