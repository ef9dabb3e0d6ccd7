"""What the API answers while PostgreSQL is down: 503 JSON with Retry-After, never a 500.

"Down" is a real PostgreSQL server (devstack's throw-away cluster), started and then stopped;
the app's connection settings point at its address for the request, as when production's
database goes away (``make chaos`` scenario 4 does it through NGINX and gunicorn).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from devstack.processes import PostgresServer, ServiceMissing

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(django_user_model) -> str:
    """A real access token of a real user, made while the database is still up."""
    user = django_user_model.objects.create_user(username="down", email="down@example.com")
    return str(AccessToken.for_user(user))


@pytest.fixture
def database_down(token: str) -> Iterator[None]:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite is a file, it does not go down")
    try:
        server = PostgresServer().start()
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    server.stop()
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(server.port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        server.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/filers/"),
        ("GET", "/api/stripe/subscription/"),
        ("POST", "/api/stripe/create-subscription/"),
    ],
)
def test_database_down_is_a_503_json_with_retry_after(client, token, database_down, method, path):
    # The bearer token is valid: DRF looks its user up in the database, which is gone.
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = getattr(client, method.lower())(path, content_type="application/json", **headers)
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "detail": "The service is briefly unavailable; please try again in a moment.",
        "code": "service_unavailable",
    }
