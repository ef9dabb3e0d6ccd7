"""Writes of 13F data: loading parsed filings into the database."""

from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, transaction

from .models import Filer, Filing, Holding, Security
from .parser import ParsedFiling, parse_filing_file

DEMO_DATA_DIR = Path(__file__).resolve().parent / "data" / "sec13f"


@dataclass(frozen=True)
class LoadResult:
    filing: Filing
    created: bool  # False: the accession number was already loaded, nothing changed


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
    """
    existing = Filing.objects.filter(accession_number=parsed.accession_number).first()
    if existing is not None:
        return LoadResult(filing=existing, created=False)
    try:
        with transaction.atomic():
            return LoadResult(filing=_store(parsed, source_name), created=True)
    except IntegrityError:
        # Loaded concurrently by another process between the check and the insert.
        filing = Filing.objects.get(accession_number=parsed.accession_number)
        return LoadResult(filing=filing, created=False)


def filing_load_file(*, path: Path) -> LoadResult:
    """Parse and store the filing at ``path`` (raises ``FilingParseError`` if unreadable)."""
    return filing_load(parsed=parse_filing_file(path), source_name=path.name)


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
    )

    cusips = {position.cusip for position in positions}
    securities = {s.cusip: s for s in Security.objects.filter(cusip__in=cusips)}
    missing = [
        Security(cusip=p.cusip, issuer_name=p.issuer_name, title_of_class=p.title_of_class)
        for p in {p.cusip: p for p in positions if p.cusip not in securities}.values()
    ]
    if missing:
        Security.objects.bulk_create(missing, ignore_conflicts=True)
        securities = {s.cusip: s for s in Security.objects.filter(cusip__in=cusips)}

    Holding.objects.bulk_create(
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
    )
    return filing
