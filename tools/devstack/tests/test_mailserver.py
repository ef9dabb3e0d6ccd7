"""The dev mail server (devstack/mailserver.py): real SMTP on loopback into a Maildir, as the
command `make run` / `make stack` start and as the in-process server the backend tests use."""

from __future__ import annotations

import mailbox
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from devstack.mailserver import PORT_PREFIX, MailServer, app_environ, command, maildir_messages
from devstack.processes import free_port


def message(to: str, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Open SEC Data <billing@localhost>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content("Thank you for your payment of $20.00.")
    mail.add_alternative("<p>Thank you for your payment of <b>$20.00</b>.</p>", subtype="html")
    return mail


def deliver(port: int, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(mail)


def test_the_command_prints_its_port_keeps_what_it_gets_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    maildir, port_file = tmp_path / "mailbox", tmp_path / "run" / "mail.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.mailserver", "--maildir", str(maildir),
         "--port", "0", "--port-file", str(port_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith(PORT_PREFIX), proc.stderr.read() if proc.stderr else ""
        port = int(line[len(PORT_PREFIX) :])
        assert port > 0 and port_file.read_text() == f"{port}\n"
        deliver(port, message("ann@example.com", "Your receipt: $20.00"))
        deliver(port, message("bob@example.com", "Second"))
        first, second = maildir_messages(maildir)
        assert (first["Subject"], second["Subject"]) == ("Your receipt: $20.00", "Second")
        assert first["X-RcptTo"] == "ann@example.com"  # the envelope, added by the server
        html = first.get_body(preferencelist=("html",))
        assert html is not None and "<b>$20.00</b>" in html.get_content()
        # A standard Maildir: any Maildir reader sees the same two messages.
        assert len(mailbox.Maildir(maildir, create=False)) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_it_binds_loopback_only(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack.mailserver", "--maildir", str(tmp_path),
         "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "loopback" in result.stderr
    with pytest.raises(ValueError, match="loopback"):
        MailServer(tmp_path, host="192.0.2.1")


def test_down_and_back_on_the_same_port_into_an_existing_folder(tmp_path: Path) -> None:
    """What the backend's outage tests rely on: stop() refuses connections, start() serves the
    same address again. The Maildir folder may exist already (empty)."""
    (tmp_path / "mailbox").mkdir()
    server = MailServer(tmp_path / "mailbox").start()
    try:
        port = server.port
        deliver(port, message("ann@example.com", "one"))
        server.stop()
        assert not server.running
        with pytest.raises(OSError):
            deliver(port, message("ann@example.com", "lost"))
        server.start()
        assert server.port == port
        deliver(port, message("ann@example.com", "two"))
        assert [m["Subject"] for m in server.messages()] == ["one", "two"]
    finally:
        server.stop()


def test_the_runners_settings_for_it(tmp_path: Path) -> None:
    env = app_environ(port=2525, maildir=tmp_path / "mailbox")
    assert env == {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": "2525",
        "EMAIL_USE_TLS": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "DEV_MAILBOX_DIR": str(tmp_path / "mailbox"),
    }
    argv = command(maildir=tmp_path / "mailbox", port=2525)
    assert argv[1:] == ["-m", "devstack.mailserver", "--maildir", str(tmp_path / "mailbox"),
                        "--host", "127.0.0.1", "--port", "2525"]  # fmt: skip
    # The command as the runners start it, on a free port they chose.
    port = free_port()
    argv = command(maildir=tmp_path / "mailbox", port=port)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                deliver(port, message("ann@example.com", "fixed port"))
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert [m["Subject"] for m in maildir_messages(tmp_path / "mailbox")] == ["fixed port"]
    finally:
        proc.terminate()
        proc.wait(10)
