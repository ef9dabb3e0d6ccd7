"""Writes of 13F data: loading parsed filings into the database, one (:func:`filing_load`)
or many in one transaction (:func:`filings_load_many`, what the EDGAR workers use)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, OuterRef, Subquery

from .models import LATEST_ORDER, Filer, Filing, Holding, Security
from .parser import ParsedFiling, Position, parse_filing_file
from .pgcopy import rows_copy

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
            result = _store_amended(parsed, source_name)
            _latest_mark(filer_ids=[result.filing.filer_id])
            return result
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


def filings_load_many(*, filings: Sequence[tuple[ParsedFiling, str]]) -> list[LoadResult]:
    """Store many parsed filings (with their source names) in one transaction; answers one
    :class:`LoadResult` per filing, in order. The same rules as :func:`filing_load`.

    Original reports of a period nothing else is stored for — nearly every filing of a
    quarter — are written together: a handful of queries for the whole batch and the
    holdings in one ``COPY`` on PostgreSQL (batched ``bulk_create`` elsewhere). Amendments,
    and filings of a period already on file, go through :func:`filing_load`'s rules one by one
    in the same transaction. Raises what the database raises (``IntegrityError`` when another
    process stored one of them meanwhile): nothing is then stored, and the caller may store
    them one by one.
    """
    with transaction.atomic():
        return _store_many(list(filings))


def _store_many(items: list[tuple[ParsedFiling, str]]) -> list[LoadResult]:
    results: dict[int, LoadResult] = {}
    stored = {
        f.accession_number: f
        for f in Filing.objects.filter(accession_number__in={p.accession_number for p, _ in items})
    }
    todo: list[int] = []
    for i, (parsed, _) in enumerate(items):
        if parsed.accession_number in stored:
            results[i] = LoadResult(filing=stored[parsed.accession_number], created=False)
        elif any(items[j][0].accession_number == parsed.accession_number for j in todo):
            continue  # twice in the batch: the first one is stored, this one answered below
        else:
            todo.append(i)
    positions = {i: items[i][0].positions for i in todo}

    filers = _filers_lock(items, todo)
    # Securities of every filing first, in CUSIP order, so concurrent batches take the rows
    # they insert in one order (no deadlock) and the amendments below find theirs stored.
    security_ids = _securities_upsert([p for i in todo for p in positions[i]])

    periods = {(filers[items[i][0].cik].pk, items[i][0].period_of_report) for i in todo}
    on_file = set(
        Filing.objects.filter(
            filer_id__in={filer_id for filer_id, _ in periods},
            period_of_report__in={period for _, period in periods},
        ).values_list("filer_id", "period_of_report")
    )
    seen: dict[tuple[int, date], int] = {}
    for i in todo:
        key = (filers[items[i][0].cik].pk, items[i][0].period_of_report)
        seen[key] = seen.get(key, 0) + 1
    plain: list[int] = []  # stored together
    ruled: list[int] = []  # by the rules of amendments, one by one
    for i in todo:
        parsed = items[i][0]
        key = (filers[parsed.cik].pk, parsed.period_of_report)
        alone = key not in on_file and seen[key] == 1
        (plain if alone and parsed.amendment_type != "RESTATEMENT" else ruled).append(i)

    _filer_names_follow([(filers[items[i][0].cik], items[i][0]) for i in plain])
    new = [
        _filing_row(items[i][0], items[i][1], filers[items[i][0].cik], len(positions[i]))
        for i in plain
    ]
    Filing.objects.bulk_create(new, batch_size=BULK_BATCH)
    _holdings_write(
        [
            (filing.pk, security_ids[p.cusip], p)
            for i, filing in zip(plain, new, strict=True)
            for p in positions[i]
        ]
    )
    for i, filing in zip(plain, new, strict=True):
        results[i] = LoadResult(filing=filing, created=True)
    for i in ruled:
        results[i] = _store_amended(items[i][0], items[i][1])
    _latest_mark(filer_ids=[filer.pk for filer in filers.values()])
    for i, (parsed, _) in enumerate(items):
        if i not in results:  # a repeat within the batch
            first = next(j for j in todo if items[j][0].accession_number == parsed.accession_number)
            results[i] = LoadResult(filing=results[first].filing, created=False)
    return [results[i] for i in range(len(items))]


def _latest_mark(*, filer_ids: list[int]) -> None:
    """Mark each of these filers' latest filing (``LATEST_ORDER``) ``is_latest``, and only it:
    three statements whatever the number of filers, rows already right left alone."""
    newest = Filing.objects.filter(filer=OuterRef("pk")).order_by(*LATEST_ORDER).values("id")[:1]
    latest = [
        pk
        for pk in Filer.objects.filter(pk__in=filer_ids)
        .annotate(newest=Subquery(newest))
        .values_list("newest", flat=True)
        if pk is not None
    ]
    Filing.objects.filter(filer_id__in=filer_ids, is_latest=True).exclude(pk__in=latest).update(
        is_latest=False
    )
    Filing.objects.filter(pk__in=latest, is_latest=False).update(is_latest=True)


def filers_latest_mark(*, filer_ids: list[int]) -> None:
    """Mark these filers' latest filings again after filings were changed or deleted by hand
    (the admin): the holders of a security are read from ``is_latest``."""
    ids = sorted(set(filer_ids))
    with transaction.atomic():
        # The filers' locks, as ingestion takes them (_filers_lock): one writer per filer.
        list(Filer.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
        _latest_mark(filer_ids=ids)


def _filers_lock(items: list[tuple[ParsedFiling, str]], todo: list[int]) -> dict[int, Filer]:
    """The batch's filers by CIK, created when new, locked for this transaction (what
    :func:`_store_amended` does per filing: one writer per filer at a time)."""
    names: dict[int, str] = {}
    for i in todo:
        names.setdefault(items[i][0].cik, items[i][0].filer_name)
    filers = {f.cik: f for f in Filer.objects.filter(cik__in=names)}
    missing = sorted(cik for cik in names if cik not in filers)
    if missing:
        Filer.objects.bulk_create(
            [Filer(cik=cik, name=names[cik]) for cik in missing], ignore_conflicts=True
        )
        filers.update((f.cik, f) for f in Filer.objects.filter(cik__in=missing))
    locked = Filer.objects.select_for_update().filter(pk__in=[f.pk for f in filers.values()])
    list(locked.order_by("pk").values_list("pk", flat=True))
    return filers


def _filer_names_follow(pairs: list[tuple[Filer, ParsedFiling]]) -> None:
    """A filer's name follows its most recent period (as in :func:`_store`)."""
    latest_filed: dict[int, ParsedFiling] = {}
    for filer, parsed in pairs:
        known = latest_filed.get(filer.pk)
        if known is None or parsed.period_of_report >= known.period_of_report:
            latest_filed[filer.pk] = parsed
    by_pk = {filer.pk: filer for filer, _ in pairs}
    renamed = [
        pk for pk, p in latest_filed.items() if p.filer_name and by_pk[pk].name != p.filer_name
    ]
    if not renamed:
        return
    latest_stored = dict(
        Filing.objects.filter(filer_id__in=renamed)
        .values("filer_id")
        .annotate(latest=Max("period_of_report"))
        .values_list("filer_id", "latest")
    )
    for pk in renamed:
        parsed = latest_filed[pk]
        latest = latest_stored.get(pk)
        if latest is None or parsed.period_of_report >= latest:
            by_pk[pk].name = parsed.filer_name
            by_pk[pk].save(update_fields=["name"])


def _securities_upsert(positions: list[Position]) -> dict[str, int]:
    """The ids of these positions' securities by CUSIP, the missing ones created."""
    first: dict[str, Position] = {}
    for p in positions:
        first.setdefault(p.cusip, p)
    if connection.vendor == "postgresql":
        return _securities_upsert_pg(first)
    ids = dict(Security.objects.filter(cusip__in=first).values_list("cusip", "id"))
    missing = sorted(cusip for cusip in first if cusip not in ids)
    if missing:
        Security.objects.bulk_create(
            [
                Security(
                    cusip=c,
                    issuer_name=first[c].issuer_name,
                    title_of_class=first[c].title_of_class,
                )
                for c in missing
            ],
            ignore_conflicts=True,
            batch_size=BULK_BATCH,
        )
        ids.update(Security.objects.filter(cusip__in=missing).values_list("cusip", "id"))
    return ids


def _securities_upsert_pg(first: dict[str, Position]) -> dict[str, int]:
    """:func:`_securities_upsert` in two statements of three array parameters each, whatever
    the number of CUSIPs (the ORM's IN list and ``bulk_create`` prepare every value in
    Python: most of a filing's storing when its securities were new)."""
    # The table's own name, quoted; every value is a parameter.
    table = connection.ops.quote_name(Security._meta.db_table)
    select = f"SELECT cusip, id FROM {table} WHERE cusip = ANY(%s)"  # noqa: S608
    insert = (
        f"INSERT INTO {table} (cusip, issuer_name, title_of_class)"  # noqa: S608
        " SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[])"
        " ON CONFLICT (cusip) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(select, [list(first)])
        ids: dict[str, int] = dict(cursor.fetchall())
        missing = sorted(cusip for cusip in first if cusip not in ids)
        if missing:
            cursor.execute(
                insert,
                [
                    missing,
                    [first[c].issuer_name for c in missing],
                    [first[c].title_of_class for c in missing],
                ],
            )
            # Inserted here or, concurrently, by another process: read them all back.
            cursor.execute(select, [missing])
            ids.update(cursor.fetchall())
    return ids


def _filing_row(parsed: ParsedFiling, source_name: str, filer: Filer, positions: int) -> Filing:
    return Filing(
        accession_number=parsed.accession_number,
        filer=filer,
        form_type=parsed.form_type,
        period_of_report=parsed.period_of_report,
        filed_on=parsed.filed_on,
        total_value=parsed.total_value,
        holdings_count=positions,
        row_count=len(parsed.rows),
        reported_entry_total=parsed.reported_entry_total,
        reported_value_total=parsed.reported_value_total,
        values_in_thousands=parsed.values_in_thousands,
        source_name=source_name,
        amendment_type=parsed.amendment_type,
    )


HOLDING_COLUMNS = (
    "filing_id", "security_id", "value", "shares", "sh_prn_type", "put_call", "row_count"
)  # fmt: skip


def _holdings_write(rows: list[tuple[int, int, Position]]) -> None:
    """Insert holdings: PostgreSQL's ``COPY`` (no SQL to build or parse per row, about a
    third of the ORM's cost), batched ``bulk_create`` on SQLite."""
    if connection.vendor == "postgresql":
        rows_copy(
            table=Holding._meta.db_table,
            columns=HOLDING_COLUMNS,
            rows=[
                (filing, security, p.value, p.shares, p.sh_prn_type, p.put_call, p.row_count)
                for filing, security, p in rows
            ],
        )
        return
    Holding.objects.bulk_create(
        (
            Holding(
                filing_id=filing,
                security_id=security,
                value=p.value,
                shares=p.shares,
                sh_prn_type=p.sh_prn_type,
                put_call=p.put_call,
                row_count=p.row_count,
            )
            for filing, security, p in rows
        ),
        batch_size=BULK_BATCH,
    )
