"""The billing e-mails that reached the dev mail server, counted by Message-ID.

devstack's mail server (aiosmtpd's ``Mailbox`` handler) keeps every message it is given in a
Maildir: one file per delivery, written under ``tmp/`` and renamed into ``new/`` (a reader may
move it to ``cur/``, adding ``:2,<flags>`` to its name). billing.notifications gives each mail
the Message-ID ``<event id>.<kind>@<sender domain>``, the same for every send of that mail, so
two files with one Message-ID are one e-mail delivered twice: a side effect done twice, which
the run counts with the events applied twice, unless the scenario killed the process that held
that mail ``sending`` (chaos.scenarios, ``killed_while_sending``): the relay may have taken it
just before the kill, and the app sends such a mail again on purpose (at least once, never
lost; billing.notifications). Those are counted apart, as resent.

No Django here: it reads files only (the unit tests use it without a topology).
"""

from __future__ import annotations

import email.policy
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

_HEADERS = BytesHeaderParser(policy=email.policy.default)


def maildir_ids(maildir: Path) -> dict[str, str]:
    """Each stored message's Maildir key (its file name without the ``:2,`` flags) → its
    Message-ID (``""`` if it has none). ``tmp/`` is left out: a file there is half written."""
    found: dict[str, str] = {}
    for sub in ("new", "cur"):
        folder = maildir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # moved new/ → cur/ meanwhile: read there (or next time)
                continue
            message_id = _HEADERS.parsebytes(data).get("Message-ID")
            found[path.name.split(":", 1)[0]] = str(message_id or "").strip()
    return found


@dataclass
class MailCount:
    """The e-mails delivered since a mark: how many, and the Message-IDs delivered more than
    once among them (a copy since the mark and another at any time)."""

    sent: int = 0
    twice: list[str] = field(default_factory=list)
    #: Delivered twice after a kill of the process that was sending them (by design).
    resent: list[str] = field(default_factory=list)


def local_part(message_id: str) -> str:
    """``<evt_1.receipt@example.com>`` → ``evt_1.receipt``."""
    return message_id.strip().strip("<>").rpartition("@")[0]


def emails_count(
    maildir: Path, *, before: Collection[str], killed_while_sending: Mapping[str, int] = {}
) -> MailCount:
    """Count the messages of ``maildir`` not in ``before`` (the keys of :func:`maildir_ids` at
    the mark). A duplicate whose first copy came before the mark counts now, when the second
    copy arrived; a message without a Message-ID counts as sent and is never a duplicate. A
    duplicate whose local part's sender was killed holding it (``killed_while_sending``: how
    many times) is ``resent`` if it has at most one extra copy per such kill, else ``twice``."""
    ids = maildir_ids(maildir)
    copies = Counter(message_id for message_id in ids.values() if message_id)
    new = {message_id for key, message_id in ids.items() if key not in before}
    again = sorted(message_id for message_id in new if message_id and copies[message_id] > 1)

    def explained(message_id: str) -> bool:
        kills = killed_while_sending.get(local_part(message_id), 0)
        return kills > 0 and copies[message_id] <= 1 + kills

    return MailCount(
        sent=sum(1 for key in ids if key not in before),
        twice=[m for m in again if not explained(m)],
        resent=[m for m in again if explained(m)],
    )
