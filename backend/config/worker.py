"""The Celery worker's consumer: celery 5.7.0's, surviving a Redis that drops mid-task.

When the broker connection breaks, celery 5.7.0 (``Consumer.on_connection_error_after_connected``)
first ``collect()``s the connection, which closes its channels and detaches kombu's transport
(``transport.client = None``), and then ``close()``s the same connection again. A Redis channel
whose first close failed on the dead socket (the worker was waiting in BRPOP, as an idle worker
does) is closed a second time; holding an unacknowledged message (``acks_late``: any task running
when Redis went away), it tries to put that message back through a new Redis client built from
the detached ``transport.client``: ``AttributeError``, which ``ignore_errors`` does not catch,
and the worker logs "Unrecoverable error" and shuts down instead of reconnecting.

The second close has nothing left to do: the sockets went with ``collect()``, and the message is
safe in Redis's unacked set, which puts it back in the queue after the visibility timeout (or at
the next worker's start), as for a worker that was killed. So here that close may fail on the
detached transport without taking the worker down; the consumer then reconnects as celery
intends. billing/tests/test_tasks_integration.py reproduces it with a real Redis and worker
(``test_redis_dropping_while_a_task_runs_...``). Used through ``CELERY_WORKER_CONSUMER``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Connection

logger = logging.getLogger(__name__)


def close_collected(connection: Connection) -> None:
    """``connection.close()`` after ``connection.collect()``: an AttributeError from the
    detached transport is the lost connection's, and is logged instead of raised."""
    try:
        Connection.close(connection)
    except AttributeError as exc:
        logger.warning(
            "Broker connection closed after its transport was detached (%s); its "
            "unacknowledged messages come back from Redis after the visibility timeout",
            exc,
        )


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Any) -> None:
        connection = self.connection
        if connection is not None:
            # Read by celery as `connection.close` right after `collect()`; the connection
            # object is dropped afterwards, so shadowing its method here touches nothing else.
            connection.close = lambda: close_collected(connection)  # type: ignore[method-assign]
        super().on_connection_error_after_connected(exc)
