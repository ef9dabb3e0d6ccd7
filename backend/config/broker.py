"""The embedded broker of `make run`: kombu's filesystem transport, safe between processes.

kombu (5.x) creates a message file in the queue folder and then writes into it, while a worker
polling that folder moves and reads any file it finds: read between the two, a message is an
empty file, and the worker dies on ``JSONDecodeError``. Here a message is written under a name
no reader picks up and then renamed into place, which is atomic on POSIX: a reader sees a whole
message or none. Selected by ``CELERY_BROKER_TRANSPORT`` when the broker is ``filesystem://``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # (kombu's own signatures of _put disagree between its base and filesystem channels)
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``payload`` onto ``queue``: write a hidden file, then rename it into place."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: kombu's reader takes only "<stamp>_<uuid>.<queue>.msg" names.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
