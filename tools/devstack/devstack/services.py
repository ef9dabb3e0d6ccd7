"""Run a command with throw-away Redis and/or PostgreSQL servers (``make test`` uses it).

    python -m devstack.services [--redis] [--postgres] -- COMMAND...

runs COMMAND with ``REDIS_URL`` / ``DATABASE_URL`` pointing at fresh servers on free
loopback ports, then stops them (also on Ctrl-C) and exits with COMMAND's status.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys

from devstack.processes import postgres_server, redis_server, stop


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM (a CI runner stopping us) stops the command and the servers, as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", action="store_true", help="start redis-server, set REDIS_URL")
    parser.add_argument(
        "--postgres", action="store_true", help="start PostgreSQL, set DATABASE_URL"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
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
