"""The dev/test mail server: a real SMTP server on loopback that keeps every message it is
given in a Maildir, so that development and tests see exactly what would have gone out.

    python -m devstack.mailserver --maildir DIR [--host 127.0.0.1] [--port 0] [--port-file F]
    # stdout, once it accepts connections (one line, flushed):
    MAILSERVER_PORT=41234

aiosmtpd (PyPI) speaks SMTP; its ``Mailbox`` handler stores each message with the standard
library's ``mailbox.Maildir`` (written under ``tmp/``, then renamed into ``new/``: a reader
never sees half a message), adding ``X-Peer``, ``X-MailFrom`` and ``X-RcptTo`` headers with
the envelope. Nothing is relayed anywhere. It binds loopback addresses only, and accepts any
sender and recipient without authentication (there is nothing to protect: it delivers to a
folder on this machine).

``make run`` and ``make stack`` start it (:func:`command`, :func:`app_environ`) and point
Django's ``EMAIL_HOST``/``EMAIL_PORT`` at it; the dev mailbox page of the devtools app
(``/_dev/mailbox/``) reads the same Maildir. Tests start :class:`MailServer` in their own
process and may stop and start it again on the same port (a relay that is down, then back).
SIGTERM/SIGINT stop the command cleanly.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import logging
import os
import signal
import sys
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from devstack.paths import PY

PORT_PREFIX = "MAILSERVER_PORT="
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class _Controller(Controller):
    """aiosmtpd's threaded controller, which also takes port 0 (a free port, read back once
    bound; aiosmtpd itself would try to connect to port 0 to check it is up)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            sockets: Any = getattr(self.server, "sockets", ())  # an asyncio Server's
            self.port = int(sockets[0].getsockname()[1])
        super()._trigger_server()


class MailServer:
    """The SMTP server in a thread of this process, delivering into ``maildir``.

    ``port=0`` picks a free port at the first start; :meth:`stop` then :meth:`start` serves
    the same port again, so an address handed out stays valid across an outage.
    """

    def __init__(self, maildir: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 0):
        if host not in LOOPBACK:
            raise ValueError(f"the dev mail server binds loopback only, not {host!r}")
        self.maildir = Path(maildir)
        self.host = host
        self.port = port
        self._controller: _Controller | None = None

    def start(self) -> MailServer:
        if self._controller is not None:
            return self
        # A Maildir is three folders; mailbox.Maildir makes them only for a path that does
        # not exist yet, so make them here whatever is there.
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
        controller = _Controller(
            Mailbox(self.maildir),
            hostname=self.host,
            port=self.port,
            # Replies name this host, not the machine's (nothing here is a real mail host).
            server_hostname="devstack-mailserver",
            ready_timeout=10,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def messages(self) -> list[EmailMessage]:
        """What it received, oldest first (by delivery time), parsed with the modern policy."""
        return maildir_messages(self.maildir)

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def maildir_messages(maildir: str | os.PathLike[str]) -> list[EmailMessage]:
    """The messages of a Maildir, oldest first (by the time each was stored)."""
    folder = Path(maildir)
    files = [path for sub in ("new", "cur") if (folder / sub).is_dir()
             for path in (folder / sub).iterdir()]  # fmt: skip
    files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    parsed = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        parsed.append(message)
    return parsed


def command(*, maildir: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that runs this server as a process (for a runner's supervisor)."""
    return [PY, "-m", "devstack.mailserver", "--maildir", str(maildir),
            "--host", host, "--port", str(port)]  # fmt: skip


def app_environ(*, port: int, maildir: Path, host: str = "127.0.0.1") -> dict[str, str]:
    """The app's settings for this server: plain SMTP on loopback, no credentials, and the
    Maildir for the dev mailbox page."""
    return {
        "EMAIL_HOST": host,
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "DEV_MAILBOX_DIR": str(maildir),
    }


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maildir", type=Path, required=True, help="where messages are kept")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default)")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--port-file", type=Path, help="also write the port there, atomically")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK:
        parser.error(f"--host must be a loopback address ({', '.join(LOOPBACK)})")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = MailServer(args.maildir, host=args.host, port=args.port).start()
    try:
        if args.port_file is not None:
            _write_atomically(args.port_file, f"{server.port}\n")
        print(f"{PORT_PREFIX}{server.port}", flush=True)
        print(f"dev mail server on {args.host}:{server.port}, Maildir {args.maildir}",
              file=sys.stderr, flush=True)  # fmt: skip
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
