"""Who holds a claim on an inbox event, and whether that holder is known to be dead.

A claim (:func:`billing.inbox.inbox_claim`) records its :class:`Holder`, so that a crash costs
seconds instead of ``BILLING_WEBHOOK_STALE_AFTER``:

* ``task_id``: the Celery task that claimed the event. Celery delivers a task again with
  the **same id** (``acks_late`` + ``reject_on_worker_lost``: at once when a pool process
  dies; after the broker's visibility timeout when the whole worker died), and a retry keeps
  the id too. So a later delivery of the same task may take the claim back at once, provided
  that no two deliveries of one task can run at the same time — :mod:`billing.tasks` gives
  an empty ``task_id`` when the broker's settings cannot promise that.
* ``process``: ``<host>/<boot id>:<pid namespace>/<pid>/<start time>`` of the process that
  claimed it. Seen from the same host, boot and pid namespace, ``/proc`` tells whether that
  process still runs (a pid can be reused, its start time cannot); a worker that starts and
  the sweep take back the claims of processes that are gone (:func:`process_gone`).

Anything else — a holder on another machine or in another container that vanished — keeps
the stale bound.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from typing import Any

#: Where Linux tells the boot (pids and start times are only unique within one).
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
#: kombu's Redis transport redelivers an unacknowledged message after this many seconds when
#: the settings name no ``visibility_timeout``.
KOMBU_REDIS_VISIBILITY_TIMEOUT = 3600


@dataclass(frozen=True)
class Holder:
    """The holder of a claim: the task delivery (``""`` outside a task) and the process."""

    task_id: str = ""
    process: str = ""


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The start time of ``pid`` (clock ticks after boot, /proc/<pid>/stat field 22); "" if
    there is no such process, or only its corpse (a zombie nobody reaped yet: a killed
    worker's pool process, orphaned, waits for init)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return ""
    # The command name (field 2) may contain spaces and parentheses: split after its end.
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return ""
    return fields[19]


@functools.cache
def _scope() -> str:
    """``<host>/<boot id>:<pid namespace>``: where a pid names one process; "" if unknown."""
    boot = _read(BOOT_ID_FILE)
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    if not boot:
        return ""
    return f"{socket.gethostname()}/{boot}:{namespace}"


def scope() -> str:
    """Claims made in this scope (host, boot, pid namespace) can be judged from here."""
    return _scope()


@functools.cache
def _process(pid: int) -> str:
    where = _scope()
    start = _start_time(pid)
    return f"{where}/{pid}/{start}" if where and start else ""


def current_process() -> str:
    """This process, as a claim records it ("" where /proc cannot tell)."""
    return _process(os.getpid())  # keyed by pid: a forked pool process gets its own


def process_gone(process: str) -> bool:
    """True when ``process`` (a :attr:`Holder.process`) is known to have ended: it ran in this
    scope and its pid is gone or now belongs to a process started later. False when it runs,
    or when it cannot be told from here (another host or container, no /proc)."""
    where = _scope()
    if not where or not process.startswith(where + "/"):
        return False
    pid_text, _, start = process[len(where) + 1 :].partition("/")
    if not pid_text.isdigit() or not start:
        return False
    return _start_time(int(pid_text)) != start


def redeliveries_cannot_overlap(task: Any) -> bool:
    """True when no two deliveries of ``task`` can run at the same time, so that a later
    delivery (same task id) may take back the earlier one's claims.

    Redis (kombu) delivers an unacknowledged message again after its visibility timeout even
    if the first delivery still waits for its countdown or still runs. A delivery waits at
    most the task's longest retry countdown (its backoff cap, or its default retry delay) and
    runs at most its hard ``time_limit`` (the prefork pool kills it then), so a visibility
    timeout longer than both together means the earlier delivery is over. Whoever publishes
    the task with a countdown must stay below that cap. ``make run``'s filesystem broker
    never delivers a message twice; any other broker is not assumed safe.
    """
    conf = task.app.conf
    url = str(conf.broker_url or "")
    if url.startswith(("filesystem://", "memory://")):
        return True
    if not url.startswith(("redis://", "rediss://")) or not task.time_limit:
        return False
    options = conf.broker_transport_options or {}
    visibility = float(options.get("visibility_timeout") or KOMBU_REDIS_VISIBILITY_TIMEOUT)
    countdown = max(
        float(task.retry_backoff_max if task.retry_backoff else 0),
        float(task.default_retry_delay or 0),
    )
    return visibility > float(task.time_limit) + countdown


def task_holder(task: Any) -> Holder:
    """The holder a claim made by a running Celery ``task`` records: its task id (only when
    :func:`redeliveries_cannot_overlap`) and this process."""
    task_id = str(task.request.id or "") if redeliveries_cannot_overlap(task) else ""
    return Holder(task_id=task_id, process=current_process())
