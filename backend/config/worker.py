"""The Celery worker's consumer: celery 5.7.0's, surviving a Redis that drops mid-task.

When the broker connection breaks, celery 5.7.0 (``Consumer.on_connection_error_after_connected``)
first ``collect()``s the connection, which closes its channels and detaches kombu's transport
(``transport.client = None``), and then ``close()``s the same connection again. A Redis channel
whose first close failed on the dead socket (the worker was waiting in BRPOP, as an idle worker
does) is closed a second time; holding an unacknowledged message (``acks_late``: any task running
when Redis went away), it tries to put that message back through a new Redis client built from
the detached ``transport.client``: ``AttributeError``, which ``ignore_errors`` does not catch,
and the worker logs "Unrecoverable error" and shuts down instead of reconnecting.

The second close has nothing left to do: ``collect()`` took the connection's sockets and
detached its transport. So when the transport is detached, this consumer skips it, and the
consumer reconnects as celery intends. The channel keeps its Redis client pool (its own close
stopped at the dead socket), so the running task is still acknowledged through it when it ends
once Redis is back; a task that ends while Redis is still away is not acknowledged, and Redis
puts its message back in the queue after the visibility timeout, as for a killed worker (the
webhook inbox's claim makes a second run harmless). billing/tests/test_tasks_integration.py
reproduces the crash with a real Redis and worker
(``test_redis_dropping_while_a_task_runs_...``). Used through ``CELERY_WORKER_CONSUMER``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Connection

logger = logging.getLogger(__name__)


def close_collected(connection: Connection) -> None:
    """``connection.close()`` right after ``connection.collect()``: nothing if ``collect()``
    detached the transport (kombu's ``transport`` property would make a new one: hence the
    private attribute), else the ordinary close."""
    if getattr(connection, "_transport", None) is None:
        logger.info("Broker connection lost: collected; reconnecting")
        return
    Connection.close(connection)


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Any) -> None:
        connection = self.connection
        if connection is not None:
            # Read by celery as `connection.close` right after `collect()`; the connection
            # object is dropped afterwards, so shadowing its method here touches nothing else.
            connection.close = lambda: close_collected(connection)  # type: ignore[method-assign]
        super().on_connection_error_after_connected(exc)
