"""Processes for development, tests and benchmarks: free loopback ports, throw-away Redis
and PostgreSQL servers, and a small supervisor for the processes of `make run` and
`make stack`.

The server binaries come from Debian's packages (``make apt`` installs them); everything
started here listens on 127.0.0.1 only and is stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.paths import BACKEND, PY, say


class ServiceMissing(RuntimeError):
    """A server binary (redis-server, PostgreSQL) is not installed: `make apt` installs it."""


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


class RedisServer:
    """A throw-away redis-server on a fixed free port: it can go down and come back on the
    same URL (tests of a broker outage use that). No persistence; its folder is removed by
    :meth:`close`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="opensec-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise ServiceMissing("redis-server is not installed (run `make apt`).")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server; yields its URL."""
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.close()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise ServiceMissing(f"PostgreSQL's {name} is not installed (run `make apt`).")
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


def wait_http(url: str, *, procs: Sequence[Proc] = (), timeout: float = 60) -> None:
    """Until ``url`` gives any HTTP answer (even an error status), or a process dies."""
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


def write_ready_file(path: Path, info: Mapping[str, Any]) -> None:
    """Write ``info`` as JSON atomically: a reader sees nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(path)


def manage(environ: Mapping[str, str], *args: str) -> None:
    """``python manage.py ARGS`` in backend/ with ``environ``; raises if it fails."""
    say("manage.py " + " ".join(args))
    subprocess.run([PY, "manage.py", *args], cwd=BACKEND, env=dict(environ), check=True)


# --- Supervisor -----------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if its runner dies (even by SIGKILL): no orphans."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    """One supervised process and where its output goes (``log`` None: the terminal)."""

    name: str
    popen: subprocess.Popen
    log: Path | None
    stop_signal: int = signal.SIGTERM

    def tail(self, lines: int = 30) -> str:
        if self.log is None:
            return "(its output went to the terminal)"
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Supervisor:
    """Starts processes in backend/ with one environment, watches them, stops them in the
    reverse order. Each child has its own session (Ctrl-C reaches the runner only, which
    then stops them in order) and dies with the runner."""

    environ: dict[str, str]
    log_dir: Path | None = None
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, command: list[str], *, stop_signal: int = signal.SIGTERM) -> Proc:
        log = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        out = open(log, "ab") if log is not None else None  # noqa: SIM115 (closed below)
        try:
            popen = subprocess.Popen(
                command,
                cwd=BACKEND,
                env=self.environ,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if out is not None:
                out.close()
        proc = Proc(name, popen, log, stop_signal)
        self.procs.append(proc)
        where = f"  [log: {log}]" if log is not None else ""
        say(f"{name} (pid {popen.pid}): {' '.join(_short(command))}{where}")
        return proc

    def first_exited(self) -> Proc | None:
        """A process that has stopped, if any."""
        return next((p for p in self.procs if p.popen.poll() is not None), None)

    def stop_all(self, *, timeout: float = 20) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(proc.stop_signal)
        deadline = time.monotonic() + timeout
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{proc.name} did not stop in time: SIGKILL")
                proc.popen.kill()
                proc.popen.wait()


def _short(command: list[str]) -> list[str]:
    return ["python" if part == PY else part for part in command]
