"""Whole EDGAR quarters into the database: the queue of filings (:class:`IngestFiling`) and
the work of one filing, which a Celery task (:mod:`filings.tasks`) runs.

Resumable by construction: a filing's row says how far it got, a stored or failed filing is
never fetched again, and a worker claims a row before fetching it (a row claimed by a worker
that died is taken over after ``EDGAR_INGEST_STALE_SECONDS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.utils import timezone

from .edgar import EdgarError, edgar_get, master_index_parse, master_index_path, quarter_parse
from .models import IngestFiling
from .parser import FilingParseError, parse_filing
from .services import filing_load

logger = logging.getLogger(__name__)
Status = IngestFiling.Status
#: Work left: rows a worker should (still) take.
OPEN = (Status.QUEUED, Status.FETCHING)


@dataclass(frozen=True)
class QueueResult:
    quarter: str
    listed: int  # 13F-HR and 13F-HR/A lines in the index (after --limit)
    new: int  # of those, not known before
    open_ids: list[int]  # rows to hand to the workers (new and unfinished ones)


def ingest_quarter_queue(*, quarter: str, limit: int | None = None) -> QueueResult:
    """Read the quarter's master index from EDGAR and record its 13F filings (one
    :class:`IngestFiling` each, known ones left as they are); answer the ids still to do.

    Rows claimed longer than ``EDGAR_INGEST_STALE_SECONDS`` ago go back to ``queued``: their
    worker died (a continued run picks them up).
    """
    year, q = quarter_parse(quarter)
    name = f"{year}Q{q}"
    index = edgar_get(path=master_index_path(year=year, quarter=q))
    entries = master_index_parse(text=index.decode("latin-1"))
    if limit is not None:
        entries = entries[:limit]
    known = set(
        IngestFiling.objects.filter(
            accession_number__in=[e.accession_number for e in entries]
        ).values_list("accession_number", flat=True)
    )
    rows = [
        IngestFiling(
            accession_number=e.accession_number,
            quarter=name,
            cik=e.cik,
            company_name=e.company_name[:255],
            form_type=e.form_type,
            date_filed=e.date_filed,
            path=e.path,
        )
        for e in entries
        if e.accession_number not in known
    ]
    # The same filing twice in one index (it happens) or a concurrent run: ignore conflicts.
    IngestFiling.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    stale = timezone.now() - timedelta(seconds=settings.EDGAR_INGEST_STALE_SECONDS)
    IngestFiling.objects.filter(quarter=name, status=Status.FETCHING, claimed_at__lte=stale).update(
        status=Status.QUEUED
    )
    accessions = [e.accession_number for e in entries]
    open_ids = list(
        IngestFiling.objects.filter(quarter=name, status__in=OPEN)
        .filter(accession_number__in=accessions)
        .order_by("date_filed", "accession_number")
        .values_list("id", flat=True)
    )
    return QueueResult(quarter=name, listed=len(entries), new=len(rows), open_ids=open_ids)


def ingest_filing_claim(*, ingest_id: int) -> IngestFiling | None:
    """Take the row for this worker (``fetching``), or None: done, or another live worker has
    it. One UPDATE, so two deliveries of the same task cannot both fetch."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EDGAR_INGEST_STALE_SECONDS)
    takeable = Q(status=Status.QUEUED) | Q(status=Status.FETCHING, claimed_at__lte=stale)
    rows = IngestFiling.objects.filter(takeable, pk=ingest_id)
    if not rows.update(status=Status.FETCHING, claimed_at=now, attempts=F("attempts") + 1):
        return None
    return IngestFiling.objects.get(pk=ingest_id)


def ingest_filing_run(*, ingest_id: int) -> str:
    """Fetch, parse and store one queued filing; answers its final status.

    An unparsable filing or one EDGAR does not serve is ``failed`` with the reason (not an
    error of the task); a throttled EDGAR after all retries raises :class:`EdgarError` after
    putting the row back to ``queued``, for the task's own retry.
    """
    row = ingest_filing_claim(ingest_id=ingest_id)
    if row is None:
        return "skipped"
    try:
        raw = edgar_get(path=row.path)
    except EdgarError as exc:
        if 400 <= exc.status < 500 and exc.status != 429:
            return _finish(row, Status.FAILED, str(exc))  # not there: retrying will not help
        IngestFiling.objects.filter(pk=row.pk).update(status=Status.QUEUED, reason=str(exc))
        raise
    try:
        parsed = parse_filing(raw, source_name=f"{row.accession_number}.txt")
    except FilingParseError as exc:
        return _finish(row, Status.FAILED, str(exc))
    except Exception as exc:
        # A document the parser did not foresee must not stop the quarter: record it.
        return _finish(row, Status.FAILED, f"Unreadable ({type(exc).__name__}: {exc}).")
    if parsed.accession_number != row.accession_number:
        reason = f"The document is {parsed.accession_number}, not {row.accession_number}."
        return _finish(row, Status.FAILED, reason)
    result = filing_load(parsed=parsed, source_name=row.path)
    note = ""
    if result.superseded:
        note = f"Superseded by the restatement {result.filing.accession_number}."
    elif result.replaced:
        note = "Replaced " + ", ".join(result.replaced) + "."
    return _finish(row, Status.STORED, note)


def _finish(row: IngestFiling, status: str, reason: str) -> str:
    IngestFiling.objects.filter(pk=row.pk).update(status=status, reason=reason)
    if status == Status.FAILED:
        logger.warning("13F %s failed: %s", row.accession_number, reason)
    return status


def ingest_status_counts(*, quarters: list[str] | None = None) -> dict[str, int]:
    """Rows per status (every status present, zero when none), of some quarters or all."""
    rows = IngestFiling.objects.all()
    if quarters:
        rows = rows.filter(quarter__in=quarters)
    found = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {status: found.get(status, 0) for status in Status.values}


def ingest_failures(*, quarters: list[str] | None = None, limit: int = 50) -> list[IngestFiling]:
    """The failed filings with their reasons, oldest first."""
    rows = IngestFiling.objects.filter(status=Status.FAILED)
    if quarters:
        rows = rows.filter(quarter__in=quarters)
    return list(rows.order_by("date_filed", "accession_number")[:limit])


def current_quarter() -> str:
    today = timezone.now().date()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"
