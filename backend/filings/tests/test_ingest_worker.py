"""EDGAR quarters through real ``celery worker`` processes, a real Redis (broker and the
shared rate limiter) and the EDGAR stand-in over HTTP, on the test database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from billing.tests.support import BACKEND, app_broker, wait_for
from fakeedgar.generate import quarter_write
from fakeedgar.server import EdgarServer
from filings.ingest import current_quarter, ingest_status_counts
from filings.models import Filing, Holding, IngestFiling
from filings.tests.edgar_support import IngestWorker, edgar_settings, windows_over

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def edgar(tmp_path: Path, settings, redis_url: str) -> Iterator[EdgarServer]:
    folder = tmp_path / "edgar"
    folder.mkdir()
    with EdgarServer(folder) as server, app_broker(redis_url):
        edgar_settings(settings, server, redis_url)
        yield server


def ingest(*args: str) -> str:
    out = StringIO()
    call_command("ingest_13f", "--quarter", "2020Q1", *args, stdout=out)
    return out.getvalue()


def done(quarter: str = "2020Q1") -> bool:
    counts = ingest_status_counts(quarters=[quarter])
    return counts["queued"] + counts["fetching"] == 0


def test_a_quarter_ingests_completely_and_a_second_run_fetches_nothing(
    edgar, redis_url, settings
) -> None:
    entries = quarter_write(edgar.root, filers=24, holdings=30, broken_every=8, amendments=1)
    settings.EDGAR_INGEST_CHUNK = 4  # 7 tasks for the 2 worker processes
    with IngestWorker(broker=redis_url, edgar_url=edgar.base_url) as worker:
        out = ingest("--timeout", "120")
        assert done(), out + worker.log()
    good = [e for e in entries if not e.broken]
    broken = [e for e in entries if e.broken]
    assert len(broken) == 3
    # The restatement replaced its original: one filing fewer than good entries.
    assert Filing.objects.count() == len(good) - 1
    assert Holding.objects.count() == 30 * (len(good) - 1)
    assert "25 13F filings in the index, 25 new, 25 handed to the workers (7 tasks)" in out
    assert "stored 22, failed 3" in out
    for entry in broken:
        assert f"failed {entry.accession}" in out
    fetched = Counter(r.path for r in edgar.filing_requests())
    assert len(fetched) == len(entries) and set(fetched.values()) == {1}

    # The second run, with a worker again: the index is read, no filing is fetched.
    before = len(edgar.requests)
    with IngestWorker(broker=redis_url, edgar_url=edgar.base_url):
        out = ingest("--timeout", "60")
    assert "0 new, 0 handed to the workers" in out
    assert [r.path for r in edgar.requests[before:]] == [
        "/Archives/edgar/full-index/2020/QTR1/master.idx"
    ]


def test_a_run_killed_half_way_and_continued_stores_every_filing_once(
    edgar, redis_url, settings
) -> None:
    entries = quarter_write(edgar.root, filers=30, holdings=20)
    settings.EDGAR_INGEST_CHUNK = 5
    # Slow enough to be killed half-way; the worker stores what it fetched every second.
    slow = {"EDGAR_MAX_REQUESTS_PER_SECOND": "4", "EDGAR_INGEST_FLUSH_SECONDS": "1"}
    first = IngestWorker(broker=redis_url, edgar_url=edgar.base_url, concurrency=1,
                         extra_env=slow).start()  # fmt: skip
    try:
        ingest("--no-wait")
        wait_for(lambda: IngestFiling.objects.filter(status="stored").count() >= 8, timeout=60)
    finally:
        first.kill()  # SIGKILL, mid-task most likely
        first.close()
    stored_before = IngestFiling.objects.filter(status="stored").count()
    assert 8 <= stored_before < len(entries)

    # Continued: a claim of the killed worker is stale at once here (production: 15 min).
    settings.EDGAR_INGEST_STALE_SECONDS = 0
    out = ingest("--no-wait")
    assert "0 new" in out
    with IngestWorker(broker=redis_url, edgar_url=edgar.base_url, concurrency=2,
                      extra_env={"EDGAR_INGEST_STALE_SECONDS": "30"}):  # fmt: skip
        wait_for(done, timeout=120)
    assert ingest_status_counts(quarters=["2020Q1"])["stored"] == len(entries)
    accessions = list(Filing.objects.values_list("accession_number", flat=True))
    assert sorted(accessions) == sorted(e.accession for e in entries)
    assert Holding.objects.count() == 20 * len(entries)
    # Nothing stored before the kill was fetched again; only filings of the chunk in the
    # killed worker's hands (concurrency 1), fetched and not yet stored, may have been.
    fetched = Counter(r.path for r in edgar.filing_requests())
    assert sum(n - 1 for n in fetched.values()) <= 5


def test_the_rate_limit_holds_across_two_workers(edgar, redis_url, settings) -> None:
    quarter_write(edgar.root, filers=40, holdings=5)
    settings.EDGAR_INGEST_CHUNK = 2  # 20 tasks, so that both workers take some
    env = {"EDGAR_MAX_REQUESTS_PER_SECOND": "10"}
    with (
        IngestWorker(broker=redis_url, edgar_url=edgar.base_url, concurrency=3, extra_env=env) as a,
        IngestWorker(broker=redis_url, edgar_url=edgar.base_url, concurrency=3, extra_env=env) as b,
    ):
        started = time.monotonic()
        ingest("--timeout", "90")
        elapsed = time.monotonic() - started
        assert done()
        assert "succeeded in" in a.log() and "succeeded in" in b.log()  # both took filings
    times = [r.at for r in edgar.requests]
    assert len(edgar.filing_requests()) == 40
    # The slots are reserved 0.105 s apart, but the stand-in stamps arrivals: on a busy machine
    # (make test runs the two suites side by side) a request can leave its slot late and arrive
    # next to the following one, and a 1 s window then held 11. So at most 10 in any 0.8 s:
    # up to 0.2 s of such lateness passes, a limiter not shared by the two workers (20/s or
    # more: 16 in 0.8 s) does not.
    assert windows_over(times, limit=10, seconds=0.8) == []
    # Six processes together took about as long as 41 requests at 10/s: the limit, not the
    # work, set the pace.
    assert elapsed >= 41 * 0.1 - 0.5


# --- The beat entry -------------------------------------------------------------------------

BEAT_ENTRY = "filings-ingest-current-quarter"
# Run with a worker's environment: the beat entry as the settings and the Celery app see it.
SHOW_BEAT = """
import json
import django
django.setup()
from config.celery import app
app.loader.import_default_modules()  # what a worker does at start-up (autodiscovery)
entry = app.conf.beat_schedule.get(BEAT_ENTRY)
print(json.dumps(entry and {"task": entry["task"], "schedule": str(entry["schedule"]),
                            "registered": entry["task"] in app.tasks}))
"""
# Run likewise: celery beat's own schedule file, with the entry last run two days ago, so
# that the beat started next finds it due at once (not at 06:41 UTC).
PRIME_BEAT = """
import sys
from datetime import timedelta
import django
django.setup()
from celery.beat import PersistentScheduler
from config.celery import app
scheduler = PersistentScheduler(app=app, schedule_filename=sys.argv[1])
scheduler.setup_schedule()
entry = scheduler.schedule[BEAT_ENTRY]
entry.last_run_at = app.now() - timedelta(days=2)
scheduler.sync()
scheduler.close()
"""


def _python(code: str, env: dict[str, str], *args: str) -> str:
    code = f"BEAT_ENTRY = {BEAT_ENTRY!r}\n" + code
    answer = subprocess.run([sys.executable, "-c", code, *args], cwd=BACKEND, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


@pytest.mark.parametrize("beat", ["true", "false", ""])
def test_the_beat_entry_is_there_only_when_asked_for(edgar, redis_url, beat: str) -> None:
    env = IngestWorker(broker=redis_url, edgar_url=edgar.base_url).env()
    env.pop("EDGAR_INGEST_BEAT", None)
    if beat:
        env["EDGAR_INGEST_BEAT"] = beat
    entry = json.loads(_python(SHOW_BEAT, env).strip().splitlines()[-1])
    if beat == "true":
        assert entry == {"task": "filings.ingest_current_quarter", "registered": True,
                         "schedule": "<crontab: 41 6 * * * (m/h/dM/MY/d)>"}  # fmt: skip
    else:
        assert entry is None  # off by default


def test_beat_queues_the_current_quarter_and_the_workers_store_it(edgar, redis_url) -> None:
    quarter = current_quarter()
    entries = quarter_write(edgar.root, quarter=quarter, filers=6, holdings=4, broken_every=6)
    worker = IngestWorker(broker=redis_url, edgar_url=edgar.base_url, beat=True,
                          extra_env={"EDGAR_INGEST_BEAT": "true"})  # fmt: skip
    _python(PRIME_BEAT, worker.env(), str(worker.beat_schedule_path))
    with worker:
        wait_for(lambda: IngestFiling.objects.count() == 6 and done(quarter), timeout=90)
        log = worker.log()
    assert f"Sending due task {BEAT_ENTRY} (filings.ingest_current_quarter)" in log
    assert ingest_status_counts(quarters=[quarter]) == {
        "queued": 0, "fetching": 0, "stored": 5, "failed": 1
    }  # fmt: skip
    assert sorted(Filing.objects.values_list("accession_number", flat=True)) == sorted(
        e.accession for e in entries if not e.broken
    )
    assert Holding.objects.count() == 5 * 4
    assert f"/Archives/edgar/full-index/{quarter[:4]}/QTR{quarter[-1]}/master.idx" in [
        r.path for r in edgar.requests
    ]
