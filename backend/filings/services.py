"""Writes of 13F data: loading parsed filings into the database."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.db import IntegrityError, transaction

from .models import Filer, Filing, Holding, Security
from .parser import ParsedFiling, parse_filing_file

DEMO_DATA_DIR = Path(__file__).resolve().parent / "data" / "sec13f"


#: Rows per INSERT when writing holdings (and securities): large enough that a 5,000-row
#: filing is a few statements, small enough to stay under SQLite's variable limit.
BULK_BATCH = 900


@dataclass(frozen=True)
class LoadResult:
    filing: Filing
    created: bool  # False: already loaded (or superseded, below): nothing changed
    # Earlier reports of the period this restatement (13F-HR/A RESTATEMENT) replaced.
    replaced: tuple[str, ...] = ()
    # Not stored: a restatement filed later replaces this report (``filing`` is that one).
    superseded: bool = False


def demo_filing_paths() -> list[Path]:
    """The filings shipped with the project (the master index and READMEs are not filings)."""
    return sorted(
        path
        for path in DEMO_DATA_DIR.iterdir()
        if path.suffix in (".txt", ".nc") and path.name[:10].isdigit()
    )


def filing_load(*, parsed: ParsedFiling, source_name: str = "") -> LoadResult:
    """Store one parsed filing, its filer, securities and positions, all or nothing.

    Idempotent: a filing whose accession number is already stored is left as it is.
    The filer's name follows its most recent period.

    Amendments as the SEC's Form 13F instructions say: a 13F-HR/A of type RESTATEMENT is the
    complete report of its period and replaces the reports of that period filed before it (a
    report filed before an already stored restatement is not stored); one of type NEW
    HOLDINGS only adds positions and is stored beside the report it amends.
    """
    existing = Filing.objects.filter(accession_number=parsed.accession_number).first()
    if existing is not None:
        return LoadResult(filing=existing, created=False)
    try:
        with transaction.atomic():
            return _store_amended(parsed, source_name)
    except IntegrityError:
        # Loaded concurrently by another process between the check and the insert.
        filing = Filing.objects.get(accession_number=parsed.accession_number)
        return LoadResult(filing=filing, created=False)


def filing_load_file(*, path: Path) -> LoadResult:
    """Parse and store the filing at ``path`` (raises ``FilingParseError`` if unreadable)."""
    return filing_load(parsed=parse_filing_file(path), source_name=path.name)


def _filed_key(filed_on: date | None, accession: str) -> tuple[date, str]:
    return (filed_on or date.min, accession)


def _store_amended(parsed: ParsedFiling, source_name: str) -> LoadResult:
    filer, _ = Filer.objects.get_or_create(cik=parsed.cik, defaults={"name": parsed.filer_name})
    # One writer per filer at a time (PostgreSQL; SQLite serialises writers anyway), so an
    # original and its restatement stored by two workers at once cannot both stay.
    Filer.objects.select_for_update().filter(pk=filer.pk).first()
    key = _filed_key(parsed.filed_on, parsed.accession_number)
    same_period = list(Filing.objects.filter(filer=filer, period_of_report=parsed.period_of_report))
    for other in same_period:
        later = _filed_key(other.filed_on, other.accession_number) > key
        if other.amendment_type == "RESTATEMENT" and later:
            return LoadResult(filing=other, created=False, superseded=True)
    replaced: list[Filing] = []
    if parsed.amendment_type == "RESTATEMENT":
        replaced = [f for f in same_period if _filed_key(f.filed_on, f.accession_number) < key]
        Holding.objects.filter(filing__in=replaced).delete()
        Filing.objects.filter(pk__in=[f.pk for f in replaced]).delete()
    filing = _store(parsed, source_name)
    return LoadResult(
        filing=filing, created=True, replaced=tuple(f.accession_number for f in replaced)
    )


def _store(parsed: ParsedFiling, source_name: str) -> Filing:
    filer, created = Filer.objects.get_or_create(
        cik=parsed.cik, defaults={"name": parsed.filer_name}
    )
    latest_period = (
        filer.filings.order_by("-period_of_report")
        .values_list("period_of_report", flat=True)
        .first()
    )
    renamed = not created and parsed.filer_name and filer.name != parsed.filer_name
    if renamed and (latest_period is None or parsed.period_of_report >= latest_period):
        filer.name = parsed.filer_name
        filer.save(update_fields=["name"])

    positions = parsed.positions
    filing = Filing.objects.create(
        accession_number=parsed.accession_number,
        filer=filer,
        form_type=parsed.form_type,
        period_of_report=parsed.period_of_report,
        filed_on=parsed.filed_on,
        total_value=parsed.total_value,
        holdings_count=len(positions),
        row_count=len(parsed.rows),
        reported_entry_total=parsed.reported_entry_total,
        reported_value_total=parsed.reported_value_total,
        values_in_thousands=parsed.values_in_thousands,
        source_name=source_name,
        amendment_type=parsed.amendment_type,
    )

    cusips = {position.cusip for position in positions}
    securities = {s.cusip: s for s in Security.objects.filter(cusip__in=cusips)}
    missing = [
        Security(cusip=p.cusip, issuer_name=p.issuer_name, title_of_class=p.title_of_class)
        for p in {p.cusip: p for p in positions if p.cusip not in securities}.values()
    ]
    if missing:
        Security.objects.bulk_create(missing, ignore_conflicts=True, batch_size=BULK_BATCH)
        securities = {s.cusip: s for s in Security.objects.filter(cusip__in=cusips)}

    Holding.objects.bulk_create(
        (
            Holding(
                filing=filing,
                security=securities[p.cusip],
                value=p.value,
                shares=p.shares,
                sh_prn_type=p.sh_prn_type,
                put_call=p.put_call,
                row_count=p.row_count,
            )
            for p in positions
        ),
        batch_size=BULK_BATCH,
    )
    return filing
