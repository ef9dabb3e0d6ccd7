"""Helpers of the EDGAR ingestion tests: the stand-in's folder, a worker for ingestion.

The stand-in (tools/edgar, ``fakeedgar``) serves over real HTTP on 127.0.0.1; the worker is
billing's real ``celery worker`` process (:class:`billing.tests.support.Worker`) with the
EDGAR settings instead of Stripe's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from billing.tests.support import Worker, worker_database_url

USER_AGENT = "Open SEC Data tests tests@example.com"


class IngestWorker(Worker):
    """A ``celery worker`` on the test database that fetches from ``edgar_url``."""

    def __init__(self, *, broker: str, edgar_url: str, concurrency: int = 2,
                 extra_env: dict[str, str] | None = None, beat: bool = False) -> None:  # fmt: skip
        super().__init__(broker=broker, fake=None, concurrency=concurrency, beat=beat,
                         extra_env=extra_env, stripe_url="unused")  # fmt: skip
        self.edgar_url = edgar_url

    @property
    def beat_schedule_path(self) -> Path:
        """Where ``--beat`` keeps its schedule (the base class's choice)."""
        return self.dir / "beat-schedule"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=worker_database_url(),
            DATABASE_CONN_MAX_AGE="0",
            REDIS_URL=self.broker,
            CELERY_BROKER_URL=self.broker,
            EDGAR_BASE_URL=self.edgar_url,
            EDGAR_USER_AGENT=USER_AGENT,
            EDGAR_REDIS_URL=self.broker,
            EDGAR_BACKOFF_SECONDS="0.1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env


def windows_over(times: list[float], limit: int, seconds: float = 1.0) -> list[int]:
    """The request counts of every ``seconds``-long window starting at a request that hold
    more than ``limit`` requests (empty: the rate held)."""
    times = sorted(times)
    over = []
    j = 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + seconds:
            j += 1
        if j - i > limit:
            over.append(j - i)
    return over


def edgar_settings(settings: Any, edgar: Any, redis_url: str = "") -> None:
    settings.EDGAR_BASE_URL = edgar.base_url
    settings.EDGAR_USER_AGENT = USER_AGENT
    settings.EDGAR_REDIS_URL = redis_url
    settings.EDGAR_BACKOFF_SECONDS = 0.05
