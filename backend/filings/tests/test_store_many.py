"""Many filings stored in one transaction (what the EDGAR workers do): the same database as
storing them one by one, in a number of queries that does not grow with the filings, and
PostgreSQL's COPY for the holdings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fakeedgar.generate import quarter_write
from filings.models import Filer, Filing, Holding, Security
from filings.parser import ParsedFiling, parse_filing_file
from filings.pgcopy import rows_copy
from filings.services import filing_load, filings_load_many

pytestmark = pytest.mark.django_db


def parsed_quarter(folder: Path, **kwargs: int) -> list[ParsedFiling]:
    return [parse_filing_file(folder / e.filename) for e in quarter_write(folder, **kwargs)]


def snapshot() -> dict[str, set[tuple]]:
    """The stored data, without ids (they differ between two ways of storing the same)."""
    return {
        "filers": set(Filer.objects.values_list("cik", "name")),
        "filings": set(
            Filing.objects.values_list(
                "accession_number",
                "filer__cik",
                "form_type",
                "period_of_report",
                "filed_on",
                "total_value",
                "holdings_count",
                "row_count",
                "amendment_type",
                "source_name",
                "is_latest",
            )
        ),
        "securities": set(Security.objects.values_list("cusip", "issuer_name", "title_of_class")),
        "holdings": set(
            Holding.objects.values_list(
                "filing__accession_number",
                "security__cusip",
                "value",
                "shares",
                "sh_prn_type",
                "put_call",
                "row_count",
            )
        ),
    }


def wipe() -> None:
    Holding.objects.all().delete()
    Filing.objects.all().delete()
    Security.objects.all().delete()
    Filer.objects.all().delete()


def test_many_at_once_store_what_one_by_one_stores(tmp_path: Path) -> None:
    # 12 originals from a shared universe of 60 securities, and restatements of the first two.
    filings = parsed_quarter(tmp_path, filers=12, holdings=15, amendments=2, securities=60)
    for parsed in filings:
        filing_load(parsed=parsed, source_name=parsed.accession_number)
    one_by_one = snapshot()
    assert len(one_by_one["filings"]) == 12  # the restatements replaced their originals
    assert len(one_by_one["securities"]) < 12 * 15  # filers share securities

    wipe()
    # The first batch holds an original and its restatement (the rules of amendments run in
    # the batch); the second repeats filings already stored.
    first = filings_load_many(
        filings=[(p, p.accession_number) for p in filings[:7] + filings[12:13]]
    )
    second = filings_load_many(filings=[(p, p.accession_number) for p in filings[5:]])
    assert snapshot() == one_by_one
    assert [r.created for r in first] == [True] * 8
    assert first[-1].replaced == (filings[0].accession_number,)
    assert [r.created for r in second] == [False, False] + [True] * 5 + [False] + [True]
    assert second[-1].replaced == (filings[1].accession_number,)


def test_a_repeat_within_the_batch_is_stored_once(tmp_path: Path) -> None:
    a, b = parsed_quarter(tmp_path, filers=2, holdings=4)
    results = filings_load_many(filings=[(a, "a"), (b, "b"), (a, "a again")])
    assert [r.created for r in results] == [True, True, False]
    assert results[2].filing.pk == results[0].filing.pk
    assert Filing.objects.count() == 2 and Holding.objects.count() == 8


def test_the_filer_name_follows_its_latest_period(tmp_path: Path) -> None:
    (parsed,) = parsed_quarter(tmp_path, filers=1, holdings=3)
    later = dataclasses.replace(
        parsed, accession_number="0005000000-20-900001", filer_name="LATER NAME LLC",
        period_of_report=parsed.period_of_report.replace(year=parsed.period_of_report.year + 1),
    )  # fmt: skip
    earlier = dataclasses.replace(
        parsed, accession_number="0005000000-20-900002", filer_name="EARLIER NAME LLC",
        period_of_report=parsed.period_of_report.replace(year=parsed.period_of_report.year - 1),
    )  # fmt: skip
    filings_load_many(filings=[(parsed, "p")])
    filings_load_many(filings=[(later, "later")])
    assert Filer.objects.get().name == "LATER NAME LLC"
    filings_load_many(filings=[(earlier, "earlier")])  # an older report renames nothing
    assert Filer.objects.get().name == "LATER NAME LLC"


def test_queries_do_not_grow_with_the_filings(tmp_path: Path) -> None:
    filings = parsed_quarter(tmp_path, filers=25, holdings=10, securities=500)
    with CaptureQueriesContext(connection) as few:
        filings_load_many(filings=[(p, "") for p in filings[:5]])
    with CaptureQueriesContext(connection) as many:
        filings_load_many(filings=[(p, "") for p in filings[5:]])
    # One by one, a filing took 17 queries. PostgreSQL's COPY is not a query
    # Django sees; SQLite's bulk_create may take one INSERT more per 900 holdings.
    assert len(many) <= len(few) + 1 <= 20, [q["sql"][:80] for q in many.captured_queries]
    assert Holding.objects.count() == 250


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY and varchar lengths are PostgreSQL's (SQLite does not enforce them)")


def test_copy_escapes_what_would_end_a_value(tmp_path: Path, postgres_only: None) -> None:
    (parsed,) = parsed_quarter(tmp_path, filers=1, holdings=1)
    filing = filings_load_many(filings=[(parsed, "")])[0].filing
    security = Security.objects.create(cusip="ZZZZZZZZ9", issuer_name="X")
    awkward = ["\t\\\n", "\\N", "a\rb"]
    rows_copy(
        table=Holding._meta.db_table,
        columns=["filing_id", "security_id", "value", "shares", "sh_prn_type", "put_call",
                 "row_count"],
        rows=[(filing.pk, security.pk, n, 1, text, "", 1) for n, text in enumerate(awkward)],
    )  # fmt: skip
    stored = Holding.objects.filter(security=security).order_by("value")
    assert list(stored.values_list("sh_prn_type", flat=True)) == awkward


def test_holders_are_the_positions_of_each_filers_latest_filing(tmp_path: Path) -> None:
    from filings.selectors import holders_of

    a, b = parsed_quarter(tmp_path, filers=2, holdings=3, securities=6)
    held = a.rows[0].cusip
    b = dataclasses.replace(b, rows=[dataclasses.replace(b.rows[0], cusip=held), *b.rows[1:]])
    next_period = a.period_of_report.replace(year=a.period_of_report.year + 1)
    # Filer A's next report no longer lists the security: A is no holder any more.
    a_later = dataclasses.replace(
        a, accession_number="0005000000-21-000001", period_of_report=next_period,
        rows=[r for r in a.rows if r.cusip != held],
    )  # fmt: skip
    filings_load_many(filings=[(a, ""), (b, "")])
    security = Security.objects.get(cusip=held)
    assert {h.filing.filer.cik for h in holders_of(security=security)} == {a.cik, b.cik}
    filing_load(parsed=a_later)
    assert [h.filing.filer.cik for h in holders_of(security=security)] == [b.cik]
    latest = Filing.objects.filter(is_latest=True).values_list("accession_number", flat=True)
    assert set(latest) == {a_later.accession_number, b.accession_number}


def test_the_migration_marks_the_latest_filing_of_each_filer(tmp_path: Path) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("filings.migrations.0003_latest_filing_and_holder_indexes")
    filings = parsed_quarter(tmp_path, filers=3, holdings=2, amendments=1)
    filings_load_many(filings=[(p, "") for p in filings])
    marked = set(Filing.objects.filter(is_latest=True).values_list("pk", flat=True))
    assert len(marked) == 3
    Filing.objects.update(is_latest=False)
    migration.mark_latest(apps, None)
    assert set(Filing.objects.filter(is_latest=True).values_list("pk", flat=True)) == marked


def test_deleting_the_latest_filing_in_the_admin_makes_the_one_before_latest(
    tmp_path: Path, admin_client
) -> None:
    from filings.selectors import holders_of

    [a] = parsed_quarter(tmp_path, filers=1, holdings=2)
    years = [dataclasses.replace(
        a, accession_number=f"000500000{n}-21-000001",
        period_of_report=a.period_of_report.replace(year=a.period_of_report.year + n),
    ) for n in (1, 2)]  # fmt: skip
    filings_load_many(filings=[(p, "") for p in (a, *years)])

    def latest() -> list[str]:
        marked = Filing.objects.filter(is_latest=True)
        return list(marked.values_list("accession_number", flat=True))

    assert latest() == [years[1].accession_number]
    newest = Filing.objects.get(accession_number=years[1].accession_number)
    answer = admin_client.post(f"/admin/filings/filing/{newest.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert latest() == [years[0].accession_number]  # one page's delete
    security = Security.objects.get(cusip=a.rows[0].cusip)
    assert [h.filing.accession_number for h in holders_of(security=security)] == latest()

    middle = Filing.objects.get(accession_number=years[0].accession_number)
    answer = admin_client.post(
        "/admin/filings/filing/",
        {"action": "delete_selected", "_selected_action": [middle.pk], "post": "yes"},
    )
    assert answer.status_code == 302
    assert latest() == [a.accession_number]  # the list's bulk delete
