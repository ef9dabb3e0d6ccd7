"""The embedded broker (config/broker.py): a reader never takes a message that is half written."""

from __future__ import annotations

import multiprocessing
import os
import queue as stdlib_queue
from pathlib import Path

from kombu import Connection

# T=filesystem runs these tests on kombu's own transport, to see what they guard against.
TRANSPORT = os.environ.get("T", "config.broker:Transport")


def connection(folder: Path) -> Connection:
    for sub in ("out", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_the_embedded_broker_is_this_transport(settings) -> None:
    if settings.CELERY_BROKER_URL == "filesystem://":
        assert settings.CELERY_BROKER_TRANSPORT == "config.broker:Transport"


def test_a_message_being_written_is_not_taken(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        channel = conn.default_channel
        # What a writer leaves while it writes: a hidden partial file (here: never finished).
        (tmp_path / "out" / ".123_abc.q.msg.partial").write_bytes(b'{"body": ')
        try:
            channel._get("q")
            raise AssertionError("a partial message was taken")
        except stdlib_queue.Empty:
            pass
        channel._put("q", {"n": 1})
        assert channel._get("q") == {"n": 1}


def test_a_reader_polling_while_other_processes_write_gets_every_message_whole(
    tmp_path: Path,
) -> None:
    total, writers = 600, 3
    body = "x" * 200_000  # large enough that a write takes a while

    def write(start: int) -> None:  # in a child process
        with connection(tmp_path) as conn:
            for n in range(start, total, writers):
                conn.default_channel._put("q", {"n": n, "body": body})

    # Processes, as in `make run` (Django publishes, the Celery worker reads).
    spawn = multiprocessing.get_context("fork")
    threads = [spawn.Process(target=write, args=(i,)) for i in range(writers)]
    got: list[int] = []
    with connection(tmp_path) as conn:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads) or len(got) < total:
            try:
                message = conn.default_channel._get("q")  # a partial file: JSONDecodeError
            except stdlib_queue.Empty:
                if not any(t.is_alive() for t in threads):
                    break
                continue
            assert message["body"] == body
            got.append(message["n"])
    for thread in threads:
        thread.join()
        assert thread.exitcode == 0
    assert sorted(got) == list(range(total))
