"""Celery tasks of the 13F data: chunks of EDGAR filings into the database, the current quarter.

Tasks take ids and call :mod:`filings.ingest`; the row of a filing (:class:`IngestFiling`)
makes a duplicated or redelivered task harmless (it is claimed before it is fetched).
"""

from __future__ import annotations

import gc
import logging

from celery import shared_task
from django.conf import settings

from .edgar import EdgarError, EdgarNotAllowed
from .ingest import chunks, current_quarter, ingest_filings_run, ingest_quarter_queue

logger = logging.getLogger(__name__)


def _gc_freeze_once() -> None:
    """Move everything the worker has loaded so far (Django, the models, Celery) out of the
    cyclic garbage collector's sight, once per process. Parsing a filing allocates tens of
    thousands of objects, which sets off collections that each walked all of those modules'
    objects again: a third of a filing's CPU in the worker (4.4 instead of 6.5 ms per
    100-row filing, measured in-process). Nothing loaded at start-up is garbage."""
    if not _frozen:
        gc.freeze()
        _frozen.append(True)


_frozen: list[bool] = []


@shared_task(
    name="filings.ingest_filings",
    bind=True,
    autoretry_for=(EdgarError,),
    dont_autoretry_for=(EdgarNotAllowed,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=6,
)
def ingest_filings(self, ingest_ids: list[int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Fetch, parse and store the queued EDGAR filings ``ingest_ids`` (a chunk); EDGAR still
    throttling after the in-request backoff retries the task later (the rows not fetched
    are back in ``queued``; those done are skipped then)."""
    _gc_freeze_once()
    return ingest_filings_run(ingest_ids=ingest_ids)


@shared_task(
    name="filings.ingest_filing",
    bind=True,
    autoretry_for=(EdgarError,),
    dont_autoretry_for=(EdgarNotAllowed,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=6,
)
def ingest_filing(self, ingest_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One filing: :func:`ingest_filings` of ``[ingest_id]`` (the task of earlier versions,
    kept for messages still queued under its name)."""
    return ingest_filings_run(ingest_ids=[ingest_id])


def ingest_filings_enqueue(*, ingest_ids: list[int]) -> int:
    """Hand ``ingest_ids`` to the workers in chunks of ``EDGAR_INGEST_CHUNK``; answers the
    number of tasks sent."""
    parts = chunks(ingest_ids, settings.EDGAR_INGEST_CHUNK)
    for part in parts:
        ingest_filings.delay(part)
    return len(parts)


@shared_task(name="filings.ingest_current_quarter")
def ingest_current_quarter() -> int:
    """Celery beat (``EDGAR_INGEST_BEAT``): queue this quarter's new 13F filings; answers how
    many were handed to the workers."""
    result = ingest_quarter_queue(quarter=current_quarter())
    tasks = ingest_filings_enqueue(ingest_ids=result.open_ids)
    logger.info("%s: %d 13F filings listed, %d to do in %d tasks", result.quarter,
                result.listed, len(result.open_ids), tasks)  # fmt: skip
    return len(result.open_ids)
