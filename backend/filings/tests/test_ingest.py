"""EDGAR ingestion in this process: the index, the politeness rules, amendments, failures.

The stand-in (fakeedgar) answers over real HTTP; the task runs in this process here
(``apply``), through a real worker in test_ingest_worker.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from fakeedgar.generate import demo_write, quarter_write
from fakeedgar.server import EdgarServer
from filings import edgar
from filings.edgar import EdgarError, EdgarNotAllowed, master_index_parse, quarter_parse
from filings.ingest import (
    chunks,
    ingest_filing_run,
    ingest_filings_run,
    ingest_quarter_queue,
    ingest_status_counts,
)
from filings.models import Filing, Holding, IngestFiling
from filings.parser import parse_filing_file
from filings.services import DEMO_DATA_DIR, filing_load
from filings.tests.edgar_support import USER_AGENT, edgar_settings


@pytest.fixture
def edgar_dir(tmp_path: Path) -> Path:
    return tmp_path / "edgar"


@pytest.fixture
def stand_in(edgar_dir: Path, settings) -> Iterator[EdgarServer]:
    edgar_dir.mkdir()
    with EdgarServer(edgar_dir) as server:
        edgar_settings(settings, server)
        yield server


def run_all(quarter: str = "2020Q1") -> list[str]:
    return [ingest_filing_run(ingest_id=i) for i in ingest_quarter_queue(quarter=quarter).open_ids]


# --- The index ----------------------------------------------------------------------------


def test_master_index_keeps_the_13f_lines_of_the_real_excerpt() -> None:
    text = (DEMO_DATA_DIR / "master-index-2020Q1-excerpt.txt").read_text()
    entries = master_index_parse(text=text)
    assert entries and {e.form_type for e in entries} <= {"13F-HR", "13F-HR/A"}
    kingdon = next(e for e in entries if e.cik == 1000097)
    assert kingdon.accession_number == "0001000097-20-000004"
    assert kingdon.path == "edgar/data/1000097/0001000097-20-000004.txt"
    assert "SC 13G" in text and len(entries) < text.count("\n")


@pytest.mark.parametrize("text", ["2020", "2020Q5", "Q1-2020", "1990Q1", "20x0Q1"])
def test_quarter_must_look_like_2020Q1(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a quarter|starts in 1993"):
        quarter_parse(text)


# --- Polite to the SEC --------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["", "Open SEC Data", "   "])
def test_real_archive_refused_without_a_contact_user_agent(settings, db, agent: str) -> None:
    settings.EDGAR_BASE_URL = "https://www.sec.gov/Archives"
    settings.EDGAR_USER_AGENT = agent
    with pytest.raises(CommandError, match="fair-access rules require a User-Agent"):
        call_command("ingest_13f", "--quarter", "2020Q1")
    with pytest.raises(EdgarNotAllowed):
        edgar.edgar_get(path="edgar/full-index/2020/QTR1/master.idx")
    assert not IngestFiling.objects.exists()


def test_the_user_agent_is_sent(stand_in: EdgarServer, edgar_dir: Path) -> None:
    demo_write(edgar_dir)
    edgar.edgar_get(path="edgar/full-index/2020/QTR1/master.idx")
    assert [r.user_agent for r in stand_in.requests] == [USER_AGENT]


@pytest.mark.parametrize("status", [429, 503])
def test_backs_off_on_throttling_and_then_gets_the_document(stand_in, edgar_dir, status) -> None:
    demo_write(edgar_dir)
    stand_in.fail_next(status, times=2)
    body = edgar.edgar_get(path="edgar/full-index/2020/QTR1/master.idx")
    assert b"13F-HR" in body
    statuses = [r.status for r in stand_in.requests]
    assert statuses == [status, status, 200]
    # Retry-After: 1 from the stand-in is honoured between the attempts.
    times = [r.at for r in stand_in.requests]
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 0.9


def test_gives_up_after_the_retries_with_a_sentence(stand_in, edgar_dir, settings) -> None:
    demo_write(edgar_dir)
    settings.EDGAR_MAX_RETRIES = 1
    stand_in.fail_next(503, times=5)
    with pytest.raises(EdgarError, match="still answered HTTP 503 after 1 retries"):
        edgar.edgar_get(path="edgar/full-index/2020/QTR1/master.idx")
    assert len(stand_in.requests) == 2


def test_per_process_limiter_without_redis_keeps_the_rate(stand_in, edgar_dir, settings) -> None:
    demo_write(edgar_dir)
    settings.EDGAR_MAX_REQUESTS_PER_SECOND = 20
    for _ in range(12):
        edgar.edgar_get(path="edgar/full-index/2020/QTR1/master.idx")
    times = [r.at for r in stand_in.requests]
    # 12 requests at <= 20/s span at least 11 slots of 1/20 s.
    assert times[-1] - times[0] >= 11 / 20


# --- A quarter in this process ------------------------------------------------------------


@pytest.mark.django_db
def test_quarter_ingests_with_broken_filings_listed(stand_in, edgar_dir) -> None:
    entries = quarter_write(edgar_dir, filers=9, holdings=6, broken_every=4)
    results = run_all()
    assert sorted(results) == ["failed"] * 2 + ["stored"] * 7
    counts = ingest_status_counts(quarters=["2020Q1"])
    assert counts == {"queued": 0, "fetching": 0, "stored": 7, "failed": 2}
    assert Filing.objects.count() == 7 and Holding.objects.count() == 7 * 6
    failed = IngestFiling.objects.filter(status="failed")
    assert {f.accession_number for f in failed} == {e.accession for e in entries if e.broken}
    assert all(f.reason and f.reason.endswith(".") for f in failed)
    # Again: nothing fetched (only the index), nothing changed.
    before = len(stand_in.requests)
    assert run_all() == []
    assert [r.path for r in stand_in.requests[before:]] == [
        "/Archives/edgar/full-index/2020/QTR1/master.idx"
    ]
    out = call_command_output("--quarter", "2020Q1", "--status")
    assert "stored 7, failed 2" in out and "has no" in out


def call_command_output(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("ingest_13f", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_limit_takes_the_first_filings_only(stand_in, edgar_dir) -> None:
    quarter_write(edgar_dir, filers=5, holdings=2)
    assert len(ingest_quarter_queue(quarter="2020Q1", limit=2).open_ids) == 2
    assert IngestFiling.objects.count() == 2


@pytest.mark.django_db
def test_a_missing_filing_fails_with_its_404(stand_in, edgar_dir) -> None:
    entries = quarter_write(edgar_dir, filers=2, holdings=2)
    (edgar_dir / entries[0].filename).unlink()
    assert sorted(run_all()) == ["failed", "stored"]
    row = IngestFiling.objects.get(accession_number=entries[0].accession)
    assert "answered HTTP 404" in row.reason


@pytest.mark.django_db
def test_a_claimed_filing_is_not_fetched_by_a_second_task(stand_in, edgar_dir) -> None:
    quarter_write(edgar_dir, filers=1, holdings=2)
    (ingest_id,) = ingest_quarter_queue(quarter="2020Q1").open_ids
    IngestFiling.objects.filter(pk=ingest_id).update(status="fetching", claimed_at=_now())
    assert ingest_filing_run(ingest_id=ingest_id) == "skipped"
    assert not stand_in.filing_requests()


def _now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.django_db
def test_stale_claims_are_taken_over_by_the_next_run(stand_in, edgar_dir, settings) -> None:
    quarter_write(edgar_dir, filers=1, holdings=2)
    (ingest_id,) = ingest_quarter_queue(quarter="2020Q1").open_ids
    IngestFiling.objects.filter(pk=ingest_id).update(status="fetching", claimed_at=_now())
    settings.EDGAR_INGEST_STALE_SECONDS = 0
    assert run_all() == ["stored"]


# --- Amendments ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_restatement_replaces_the_original_in_either_order(tmp_path: Path) -> None:
    entries = quarter_write(tmp_path, filers=2, holdings=4, amendments=2)
    original, restated = entries[0], entries[2]
    # Filer 0: original first, then its restatement replaces it.
    filing_load(parsed=parse_filing_file(tmp_path / original.filename))
    result = filing_load(parsed=parse_filing_file(tmp_path / restated.filename))
    assert result.created and result.replaced == (original.accession,)
    assert list(Filing.objects.filter(filer__cik=original.cik).values_list(
        "accession_number", "amendment_type")) == [(restated.accession, "RESTATEMENT")]  # fmt: skip
    # Filer 1: the restatement arrives first; the original filed before it is not stored.
    filing_load(parsed=parse_filing_file(tmp_path / entries[3].filename))
    late = filing_load(parsed=parse_filing_file(tmp_path / entries[1].filename))
    assert late.superseded and not late.created
    assert list(Filing.objects.filter(filer__cik=entries[1].cik).values_list(
        "accession_number", flat=True)) == [entries[3].accession]  # fmt: skip


@pytest.mark.django_db
def test_new_holdings_amendment_is_stored_beside_the_original(tmp_path: Path) -> None:
    entries = quarter_write(tmp_path, filers=1, holdings=3, amendments=1)
    path = tmp_path / entries[1].filename
    path.write_bytes(path.read_bytes().replace(b"RESTATEMENT", b"NEW HOLDINGS"))
    filing_load(parsed=parse_filing_file(tmp_path / entries[0].filename))
    result = filing_load(parsed=parse_filing_file(path))
    assert result.created and result.replaced == ()
    assert Filing.objects.filter(filer__cik=entries[0].cik).count() == 2
    assert result.filing.amendment_type == "NEW HOLDINGS"


@pytest.mark.django_db
def test_admin_shows_counts_per_status_and_the_failures(stand_in, edgar_dir, admin_client) -> None:
    quarter_write(edgar_dir, filers=4, holdings=2, broken_every=4)
    run_all()
    page = admin_client.get("/admin/filings/ingestfiling/").content.decode()
    assert "queued 0, fetching 0, stored 3, failed 1" in page
    failed = admin_client.get("/admin/filings/ingestfiling/?status__exact=failed").content.decode()
    assert "has no" in failed or "lacks" in failed
    assert admin_client.post("/admin/filings/ingestfiling/add/").status_code == 403


@pytest.mark.django_db
def test_an_unexpected_parser_error_is_recorded_not_raised(stand_in, edgar_dir, monkeypatch):
    quarter_write(edgar_dir, filers=1, holdings=2)

    def explode(raw: bytes, *, source_name: str = ""):
        raise KeyError("surprise")

    # The parser's own errors are FilingParseError (tested above); this one it never raises.
    monkeypatch.setattr("filings.ingest.parse_filing", explode)
    assert run_all() == ["failed"]
    assert "KeyError" in IngestFiling.objects.get().reason


# --- Chunks of filings ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chunk_skips_the_filings_done_or_held_by_another_worker(stand_in, edgar_dir) -> None:
    entries = quarter_write(edgar_dir, filers=5, holdings=3)
    ids = ingest_quarter_queue(quarter="2020Q1").open_ids
    assert ingest_filings_run(ingest_ids=ids[:1]) == {"stored": 1, "failed": 0, "skipped": 0}
    IngestFiling.objects.filter(pk=ids[1]).update(status="fetching", claimed_at=_now())
    assert ingest_filings_run(ingest_ids=ids) == {"stored": 3, "failed": 0, "skipped": 2}
    fetched = [r.path.rsplit("/", 1)[1] for r in stand_in.filing_requests()]
    assert fetched == [f"{e.accession}.txt" for e in entries[:1] + entries[2:]]
    assert Holding.objects.count() == 4 * 3


@pytest.mark.django_db
def test_throttled_mid_chunk_stores_what_it_fetched_and_requeues_the_rest(
    stand_in, edgar_dir, settings
) -> None:
    entries = quarter_write(edgar_dir, filers=4, holdings=2)
    ids = ingest_quarter_queue(quarter="2020Q1").open_ids
    settings.EDGAR_MAX_RETRIES = 0
    stand_in.fail_path(entries[2].filename, 503)
    with pytest.raises(EdgarError, match="503"):
        ingest_filings_run(ingest_ids=ids)
    statuses = dict(IngestFiling.objects.values_list("accession_number", "status"))
    assert [statuses[e.accession] for e in entries] == ["stored", "stored", "queued", "queued"]
    assert "HTTP 503" in IngestFiling.objects.get(accession_number=entries[2].accession).reason
    # The task's retry: the stored ones are skipped, the others fetched now.
    assert ingest_filings_run(ingest_ids=ids) == {"stored": 2, "failed": 0, "skipped": 2}
    assert Filing.objects.count() == 4


@pytest.mark.django_db
def test_a_filing_the_database_refuses_fails_alone(stand_in, edgar_dir) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce varchar lengths: it stores the long CUSIP")
    entries = quarter_write(edgar_dir, filers=3, holdings=2)
    path = edgar_dir / entries[1].filename
    raw = path.read_bytes()
    cusip = re.search(rb"cusip>([^<]+)<", raw).group(1)  # type: ignore[union-attr]
    # Parsable, but 14 characters for a column of 9.
    path.write_bytes(raw.replace(b"cusip>" + cusip, b"cusip>TOOLONGCUSIP01", 1))
    ids = ingest_quarter_queue(quarter="2020Q1").open_ids
    assert ingest_filings_run(ingest_ids=ids) == {"stored": 2, "failed": 1, "skipped": 0}
    failed = IngestFiling.objects.get(status="failed")
    assert failed.accession_number == entries[1].accession
    assert failed.reason.startswith("The database refused it (DataError")
    assert Filing.objects.count() == 2 and Holding.objects.count() == 4


def test_chunks_cover_every_id_once() -> None:
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunks([1, 2], 0) == [[1], [2]]
    assert chunks([], 25) == []


@pytest.mark.parametrize(
    ("base_url", "setting", "rate"),
    [
        ("https://www.sec.gov/Archives", 2000, 10),  # the SEC's limit, whatever the setting
        ("https://WWW.SEC.GOV/Archives", 50, 10),
        ("https://efts.sec.gov/Archives", 10, 10),
        ("https://www.sec.gov/Archives", 4, 4),  # slower is always allowed
        ("http://127.0.0.1:8900/Archives", 2000, 2000),  # a stand-in or a mirror
        ("https://sec.gov.example.com/Archives", 2000, 2000),
    ],
)
def test_the_sec_is_never_asked_more_than_10_times_a_second(
    settings, base_url: str, setting: int, rate: int
) -> None:
    settings.EDGAR_BASE_URL = base_url
    settings.EDGAR_MAX_REQUESTS_PER_SECOND = setting
    assert edgar.requests_per_second() == rate
