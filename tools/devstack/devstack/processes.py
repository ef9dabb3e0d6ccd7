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
from typing import IO, Any

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
    same URL (tests of a broker outage use that). No persistence, unless ``appendonly``
    (docker-compose.yml's setting: queued tasks survive a restart); its folder is removed
    by :meth:`close`."""

    def __init__(self, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.appendonly = appendonly
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
             "--appendonly", "yes" if self.appendonly else "no", "--dir", self.dir,
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash or ``docker kill`` would (with ``appendonly``, what it had
        written is read back at the next start)."""
        if self.proc is not None:
            stop(self.proc, sig=signal.SIGKILL)
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


class PostgresServer:
    """A throw-away PostgreSQL cluster (fsync off) with a database ``opensecdata``, on a fixed
    free port: like :class:`RedisServer` it can go down and come back on the same URL with
    its data (``make chaos`` restarts it mid-burst). Its folder is removed by :meth:`close`.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the
    ``postgres`` user that Debian's package creates.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="opensec-pg-"))
        self.data, self.sockets = self.dir / "data", self.dir / "run"
        self.proc: subprocess.Popen | None = None
        self.run_as: dict = {}
        self.created = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/opensecdata"

    def _log(self) -> IO[bytes]:
        return open(self.dir / "postgres.log", "ab")  # the caller closes it

    def _init(self) -> None:
        self.sockets.mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            (self.dir / "postgres.log").touch()
            for path in (self.dir, self.sockets, self.dir / "postgres.log"):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self.run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        with self._log() as log:
            subprocess.run(
                [_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--no-instructions"],
                check=True, stdout=log, stderr=log, **self.run_as,
            )  # fmt: skip

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._init()
        with self._log() as log:
            self.proc = subprocess.Popen(
                [_pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-h", "127.0.0.1", "-k", str(self.sockets), "-F",
                 "-c", "max_connections=100", "-c", "log_min_messages=warning"],
                stdout=log, stderr=log, **self.run_as,
            )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)
        self._wait_ready()
        if not self.created:
            subprocess.run(
                [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                 "opensecdata"],
                check=True,
            )  # fmt: skip
            self.created = True
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        """Until PostgreSQL accepts connections: it listens before it is ready ("the database
        system is starting up" while it replays its log after a restart)."""
        deadline = time.monotonic() + timeout
        isready = [_pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", "postgres"]  # fmt: skip
        while subprocess.run(isready, check=False).returncode != 0:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with {self.proc.returncode} on start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on {self.port} not ready after {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        """PostgreSQL's "fast" shutdown (SIGINT): it does not wait for clients to leave, and
        aborts their open transactions (``docker compose stop`` of the postgres image)."""
        if self.proc is not None:
            stop(self.proc, sig=signal.SIGINT)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster (fsync off); yields a DATABASE_URL."""
    server = PostgresServer().start()
    try:
        yield server.url
    finally:
        server.close()


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
    """One supervised process and where its output goes (``log`` None: the terminal).

    With a restart policy (:attr:`Supervisor.restart`), ``popen`` is the current run,
    ``restarts`` counts the runs after the first, and ``held`` marks a process stopped on
    purpose (``docker compose stop``), which is not restarted until :meth:`Supervisor.resume`.
    """

    name: str
    popen: subprocess.Popen
    log: Path | None
    stop_signal: int = signal.SIGTERM
    command: list[str] = field(default_factory=list)
    restarts: int = 0
    held: bool = False
    started_at: float = field(default_factory=time.monotonic)
    #: Wait before the next restart (Docker's: 100 ms, doubled each time, reset after 10 s up).
    delay: float = 0.1
    restart_at: float | None = None

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
    then stops them in order) and dies with the runner.

    ``restart=False`` (``make run``, ``make stack``): the runner stops everything when a
    child exits (:meth:`first_exited`), so a crash is never hidden. ``restart=True``
    (``make chaos``): Compose's ``restart: unless-stopped`` — :meth:`watch` starts an exited
    process again after Docker's back-off, unless it was stopped on purpose (:meth:`stop`).
    A log file is appended to across restarts.
    """

    environ: dict[str, str]
    log_dir: Path | None = None
    procs: list[Proc] = field(default_factory=list)
    restart: bool = False

    def _spawn(self, command: list[str], log: Path | None) -> subprocess.Popen:
        out = open(log, "ab") if log is not None else None  # noqa: SIM115 (closed below)
        try:
            return subprocess.Popen(
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

    def start(self, name: str, command: list[str], *, stop_signal: int = signal.SIGTERM) -> Proc:
        log = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        popen = self._spawn(command, log)
        proc = Proc(name, popen, log, stop_signal, command=list(command))
        self.procs.append(proc)
        where = f"  [log: {log}]" if log is not None else ""
        say(f"{name} (pid {popen.pid}): {' '.join(_short(command))}{where}")
        return proc

    def first_exited(self) -> Proc | None:
        """A process that has stopped, if any."""
        return next((p for p in self.procs if p.popen.poll() is not None), None)

    def get(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def watch(self) -> list[Proc]:
        """With the restart policy: start again each exited process not stopped on purpose,
        once its back-off has passed; the processes restarted now. Call it often."""
        if not self.restart:
            return []
        now = time.monotonic()
        restarted = []
        for proc in self.procs:
            if proc.held or proc.popen.poll() is None:
                continue
            if proc.restart_at is None:
                if now - proc.started_at >= 10:
                    proc.delay = 0.1  # it had run fine: Docker resets the back-off
                proc.restart_at = now + proc.delay
                proc.delay = min(proc.delay * 2, 60.0)
                say(f"{proc.name} exited with {proc.popen.returncode}: restart in "
                    f"{proc.restart_at - now:.1f} s")  # fmt: skip
            if now >= proc.restart_at:
                self._run_again(proc)
                restarted.append(proc)
        return restarted

    def _run_again(self, proc: Proc) -> None:
        proc.popen = self._spawn(proc.command, proc.log)
        proc.restarts += 1
        proc.started_at = time.monotonic()
        proc.restart_at = None
        say(f"{proc.name} started again (pid {proc.popen.pid}, restart {proc.restarts})")

    def stop(self, name: str, *, timeout: float = 20) -> Proc:
        """Stop one process on purpose (``docker compose stop``): not restarted until
        :meth:`resume`."""
        proc = self.get(name)
        proc.held = True
        proc.restart_at = None
        if proc.popen.poll() is None:
            proc.popen.send_signal(proc.stop_signal)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        say(f"{name} stopped on purpose")
        return proc

    def resume(self, name: str) -> Proc:
        """Start a process stopped with :meth:`stop` again (``docker compose start``)."""
        proc = self.get(name)
        proc.held = False
        if proc.popen.poll() is not None:
            self._run_again(proc)
        return proc

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
