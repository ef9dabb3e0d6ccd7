"""Whole EDGAR quarters into the database: the queue of filings (:class:`IngestFiling`) and
the work of a chunk of filings, which a Celery task (:mod:`filings.tasks`) runs.

Resumable by construction: a filing's row says how far it got, a stored or failed filing is
never fetched again, and a worker claims its rows before fetching them (a row claimed by a
worker that died is taken over after ``EDGAR_INGEST_STALE_SECONDS``).

A task takes ``EDGAR_INGEST_CHUNK`` filings: one claim for all of them, then each fetched
and parsed (a failure is that filing's, with its reason), and the parsed ones stored
together (:func:`filings.services.filings_load_many`) at the end of the chunk, or sooner
when the first of them was fetched ``EDGAR_INGEST_FLUSH_SECONDS`` ago (at the SEC's pace a
chunk takes a while; a worker killed meanwhile loses only what it fetched since).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from .edgar import EdgarError, edgar_get, master_index_parse, master_index_path, quarter_parse
from .models import IngestFiling
from .parser import FilingParseError, ParsedFiling, parse_filing
from .services import LoadResult, filing_load, filings_load_many

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


def ingest_filings_claim(*, ingest_ids: Sequence[int]) -> list[IngestFiling]:
    """Take these rows for this worker (``fetching``): those still queued, or claimed by a
    worker that died; the others (done, or another live worker has them) are left out. The
    rows are locked while claimed, so two deliveries of the same task cannot both fetch."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EDGAR_INGEST_STALE_SECONDS)
    takeable = Q(status=Status.QUEUED) | Q(status=Status.FETCHING, claimed_at__lte=stale)
    with transaction.atomic():
        rows = list(
            IngestFiling.objects.select_for_update()
            .filter(takeable, pk__in=list(ingest_ids))
            .order_by("pk")
        )
        IngestFiling.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Status.FETCHING, claimed_at=now, attempts=F("attempts") + 1
        )
    order = {ingest_id: n for n, ingest_id in enumerate(ingest_ids)}
    return sorted(rows, key=lambda row: order[row.pk])


def ingest_filing_run(*, ingest_id: int) -> str:
    """Fetch, parse and store one queued filing; answers its final status (``skipped``: done,
    or another worker has it)."""
    counts = ingest_filings_run(ingest_ids=[ingest_id])
    return next((status for status, n in counts.items() if n), "skipped")


def ingest_filings_run(*, ingest_ids: Sequence[int]) -> dict[str, int]:
    """Fetch, parse and store a chunk of queued filings; answers how many ended ``stored``,
    ``failed`` and ``skipped`` (done before, or another worker has them).

    An unparsable filing or one EDGAR does not serve is ``failed`` with the reason (not an
    error of the task); a throttled EDGAR after all retries stores what was fetched, puts
    the rest of the chunk back to ``queued`` and raises :class:`EdgarError`, for the task's
    own retry.
    """
    rows = ingest_filings_claim(ingest_ids=ingest_ids)
    counts = {Status.STORED: 0, Status.FAILED: 0, "skipped": len(ingest_ids) - len(rows)}
    pending: list[tuple[IngestFiling, ParsedFiling]] = []
    first_fetched = 0.0
    for n, row in enumerate(rows):
        try:
            raw = edgar_get(path=row.path)
        except EdgarError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                _finish(row, Status.FAILED, str(exc))  # not there: retrying will not help
                counts[Status.FAILED] += 1
                continue
            _store(pending, counts)
            rest = [r.pk for r in rows[n:]]
            IngestFiling.objects.filter(pk__in=rest).update(status=Status.QUEUED, reason=str(exc))
            raise
        parsed, problem = _parse(row, raw)
        del raw
        if parsed is None:
            _finish(row, Status.FAILED, problem)
            counts[Status.FAILED] += 1
            continue
        if not pending:
            first_fetched = time.monotonic()
        pending.append((row, parsed))
        if time.monotonic() - first_fetched >= settings.EDGAR_INGEST_FLUSH_SECONDS:
            _store(pending, counts)
            pending = []
    _store(pending, counts)
    return counts


def _parse(row: IngestFiling, raw: bytes) -> tuple[ParsedFiling | None, str]:
    """The parsed filing, or None and why it cannot be stored."""
    try:
        parsed = parse_filing(raw, source_name=f"{row.accession_number}.txt")
    except FilingParseError as exc:
        return None, str(exc)
    except Exception as exc:
        # A document the parser did not foresee must not stop the quarter: record it.
        return None, f"Unreadable ({type(exc).__name__}: {exc})."
    if parsed.accession_number != row.accession_number:
        return None, f"The document is {parsed.accession_number}, not {row.accession_number}."
    return parsed, ""


def _store(pending: list[tuple[IngestFiling, ParsedFiling]], counts: dict[str, int]) -> None:
    """Store the parsed filings together and mark their rows ``stored``, in one transaction;
    if the database refuses the batch (a filing stored by another process meanwhile, a value
    it cannot hold), one by one, a filing it refuses ``failed`` with the reason."""
    if not pending:
        return
    try:
        with transaction.atomic():
            results = filings_load_many(filings=[(parsed, row.path) for row, parsed in pending])
            plain = [row.pk for (row, _), result in zip(pending, results, strict=True)
                     if not _note(result)]  # fmt: skip
            IngestFiling.objects.filter(pk__in=plain).update(status=Status.STORED, reason="")
            for (row, _), result in zip(pending, results, strict=True):
                if _note(result):
                    _finish(row, Status.STORED, _note(result))
        counts[Status.STORED] += len(pending)
        return
    except DatabaseError as exc:
        logger.warning("Storing %d filings together failed (%s); one by one.", len(pending), exc)
    for row, parsed in pending:
        try:
            result = filing_load(parsed=parsed, source_name=row.path)
        except (DataError, IntegrityError) as exc:
            _finish(row, Status.FAILED, f"The database refused it ({type(exc).__name__}: {exc}).")
            counts[Status.FAILED] += 1
            continue
        _finish(row, Status.STORED, _note(result))
        counts[Status.STORED] += 1


def _note(result: LoadResult) -> str:
    if result.superseded:
        return f"Superseded by the restatement {result.filing.accession_number}."
    if result.replaced:
        return "Replaced " + ", ".join(result.replaced) + "."
    return ""


def _finish(row: IngestFiling, status: str, reason: str) -> str:
    IngestFiling.objects.filter(pk=row.pk).update(status=status, reason=reason)
    if status == Status.FAILED:
        logger.warning("13F %s failed: %s", row.accession_number, reason)
    return status


def chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    """``ids`` in consecutive chunks of ``size`` (at least 1), for one task each."""
    size = max(1, size)
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


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
