from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from filings.models import Filer, Filing, Holding, Security
from filings.services import demo_filing_paths, filing_load_file

from .expected import DATA, FILINGS, cusips, positions, total_dollars


def _counts():
    return (
        Filer.objects.count(),
        Filing.objects.count(),
        Security.objects.count(),
        Holding.objects.count(),
    )


@pytest.mark.django_db
def test_loading_the_demo_stores_every_filing():
    for path in demo_filing_paths():
        assert filing_load_file(path=path).created
    all_cusips = set().union(*(cusips(name) for name in FILINGS))
    assert _counts() == (3, 3, len(all_cusips), sum(positions(name) for name in FILINGS))
    for name, (accession, cik, filer_name, period, _, readme_rows) in FILINGS.items():
        filing = Filing.objects.get(accession_number=accession)
        assert filing.filer.cik == cik
        assert filing.filer.name == filer_name
        assert str(filing.period_of_report) == period
        assert filing.holdings_count == filing.holdings.count() == readme_rows
        assert filing.total_value == total_dollars(name)
        assert sum(h.value for h in filing.holdings.all()) == total_dollars(name)


@pytest.mark.django_db
def test_loading_twice_changes_nothing():
    first = [filing_load_file(path=path) for path in demo_filing_paths()]
    before = _counts()
    again = [filing_load_file(path=path) for path in demo_filing_paths()]
    assert _counts() == before
    assert [r.created for r in again] == [False, False, False]
    assert [r.filing.pk for r in again] == [r.filing.pk for r in first]


@pytest.mark.django_db
def test_command_reports_loaded_then_skipped():
    out = StringIO()
    call_command("load_13f", "--demo", stdout=out)
    text = out.getvalue()
    assert "loaded 0001000097-20-000004: KINGDON CAPITAL MANAGEMENT, L.L.C. (CIK 1000097)" in text
    assert "period 2019-12-31, 55 holdings, $663,859,000" in text
    assert "3 loaded, 0 already loaded" in text

    out = StringIO()
    call_command("load_13f", "--demo", stdout=out)
    assert "0 loaded, 3 already loaded" in out.getvalue()
    assert "skipped 0001951757-25-000093: already loaded" in out.getvalue()
    assert Filing.objects.count() == 3


@pytest.mark.django_db
def test_command_reads_a_folder_and_skips_what_is_not_a_filing():
    out, err = StringIO(), StringIO()
    call_command("load_13f", str(DATA), stdout=out, stderr=err)
    assert "3 loaded, 0 already loaded, 1 not readable as 13F" in out.getvalue()
    assert "skipped master-index-2020Q1-excerpt.txt" in err.getvalue()


@pytest.mark.django_db
def test_command_refuses_a_missing_path():
    with pytest.raises(CommandError, match="does not exist"):
        call_command("load_13f", "/nonexistent/filing.txt")
    with pytest.raises(CommandError):
        call_command("load_13f")
