"""Celery tasks of the 13F data: one EDGAR filing into the database, the current quarter.

Tasks take ids and call :mod:`filings.ingest`; the row of a filing (:class:`IngestFiling`)
makes a duplicated or redelivered task harmless (it is claimed before it is fetched).
"""

from __future__ import annotations

import logging

from celery import shared_task

from .edgar import EdgarError, EdgarNotAllowed
from .ingest import current_quarter, ingest_filing_run, ingest_quarter_queue

logger = logging.getLogger(__name__)


@shared_task(
    name="filings.ingest_filing",
    bind=True,
    autoretry_for=(EdgarError,),
    dont_autoretry_for=(EdgarNotAllowed,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=6,
)
def ingest_filing(self, ingest_id: int) -> str:  # type: ignore[no-untyped-def]
    """Fetch, parse and store the queued EDGAR filing ``ingest_id``; EDGAR still throttling
    after the in-request backoff retries the task later (the row is back in ``queued``)."""
    return ingest_filing_run(ingest_id=ingest_id)


@shared_task(name="filings.ingest_current_quarter")
def ingest_current_quarter() -> int:
    """Celery beat (``EDGAR_INGEST_BEAT``): queue this quarter's new 13F filings; answers how
    many were handed to the workers."""
    result = ingest_quarter_queue(quarter=current_quarter())
    for ingest_id in result.open_ids:
        ingest_filing.delay(ingest_id)
    logger.info("%s: %d 13F filings listed, %d to do", result.quarter, result.listed,
                len(result.open_ids))  # fmt: skip
    return len(result.open_ids)
