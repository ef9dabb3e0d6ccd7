"""What the webhook receiver answers while PostgreSQL is down: 503 JSON, so Stripe delivers
the event again, and the delivery after the outage is stored.

"Down" is a real PostgreSQL server (devstack's throw-away cluster), started and then stopped:
the app's connection settings point at its address for the first delivery, as when the
database of production goes away. ``make chaos`` shows the same through NGINX and gunicorn
with the stack's own PostgreSQL restarted mid-burst.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import override_settings

from billing.models import WebhookEvent
from billing.tests.support import SECRET, event_body, event_id_of, post_event
from devstack.processes import PostgresServer, ServiceMissing

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stopped_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL that ran and is stopped now: nothing answers on its port."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite is a file, it does not go down (test_webhooks: the inbox locked)")
    try:
        server = PostgresServer().start()
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    server.stop()
    try:
        yield server
    finally:
        server.close()


def test_postgresql_down_is_a_503_json_and_stripes_retry_is_stored(client, stopped_postgres):
    body = event_body("invoice.paid", {"id": "in_1", "customer": "cus_1"})
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(stopped_postgres.port))
    try:
        with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
            down = post_event(client, body)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert down.status_code == 503
    assert down["Content-Type"] == "application/json"
    assert down.json() == {
        "detail": "The event could not be stored; please deliver it again.",
        "code": "storage_unavailable",
    }
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        again = post_event(client, body)  # Stripe's retry, the database back
    assert again.status_code == 200 and again.json()["received"] is True
    assert WebhookEvent.objects.filter(pk=event_id_of(body)).exists()
