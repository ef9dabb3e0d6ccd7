"""Fixtures of the billing tests (the project-wide ones are in backend/conftest.py; plain
helpers are in support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing import tasks
from billing.tests.support import redis_started
from devstack.processes import RedisServer


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the ids handed to Celery (by the receiver on commit, the sweep, the admin's
    Replay) instead of publishing them."""
    sent: list[str] = []

    def fake_apply_async(args=None, **options):
        assert options.get("retry") is False  # publishing must fail fast
        sent.append(args[0])

    monkeypatch.setattr(tasks.process_webhook_event, "apply_async", fake_apply_async)
    return sent


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which the test may stop and start again (same port)."""
    server = redis_started()
    try:
        yield server
    finally:
        server.close()
