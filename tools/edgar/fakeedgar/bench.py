"""``make bench-ingest``: a synthetic quarter through the EDGAR stand-in into PostgreSQL with 1
and with 2 Celery worker processes; filings/s, holdings rows/s, peak memory per worker, the
speed-up, and the p50 of the data API's holders and filer-search queries on the loaded data.

Throw-away PostgreSQL and Redis (devstack). The stand-in is not the SEC: the rate limit is
lifted for it (``EDGAR_MAX_REQUESTS_PER_SECOND``), so the figures are the product's own speed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devstack.processes import postgres_server, redis_server
from fakeedgar.generate import quarter_write
from fakeedgar.server import EdgarServer

BACKEND = Path(__file__).resolve().parents[3] / "backend"
PY = sys.executable

# Run inside manage.py shell: the p50 of the queries behind GET /api/securities/{cusip}/holders/
# (first page) and GET /api/filers/?q= (first page), and their plans.
P50 = r"""
import statistics, time
from django.db import connection
from filings import selectors
from filings.models import Holding, Security
cusips = list(Security.objects.order_by("?").values_list("cusip", flat=True)[:50])
def p50(fn):
    times = []
    for c in cusips:
        t = time.perf_counter(); fn(c); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000
holders = p50(lambda c: list(selectors.holders_of(security=Security.objects.get(cusip=c))[:50]))
search = p50(lambda c: list(selectors.filer_search(q="CAPITAL " + str(int(c) % 5000))[:50]))
print(f"rows {Holding.objects.count()}  p50 holders {holders:.1f} ms", end="")
print(f"  p50 filer search {search:.1f} ms")
qs = selectors.holders_of(security=Security.objects.get(cusip=cusips[0]))[:50]
print("EXPLAIN holders:", "\n  ".join(qs.explain().splitlines()[:12]))
"""


def _manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    out = subprocess.run([PY, "manage.py", *args], cwd=BACKEND, env=env, check=True,
                         capture_output=capture, text=True)  # fmt: skip
    return out.stdout or ""


def _peak_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a process and its children, the largest of them."""
    peak = 0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


def run(workers: int, env: dict[str, str], filings: int) -> dict[str, float]:
    _manage(env, "flush", "--no-input")
    procs = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"bench{i}@%h",
            ],
            cwd=BACKEND,
            env=env,
        )
        for i in range(workers)
    ]
    try:
        time.sleep(4)  # the workers connect
        started = time.monotonic()
        _manage(env, "ingest_13f", "--quarter", "2020Q1", capture=True)
        elapsed = time.monotonic() - started
        peaks = [_peak_kb(p.pid) / 1024 for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    rows = int(_manage(env, "shell", "--no-imports", "-c",
                       "from filings.models import Holding; print(Holding.objects.count())",
                       capture=True).strip())  # fmt: skip
    return {"seconds": elapsed, "filings_s": filings / elapsed, "rows_s": rows / elapsed,
            "rows": rows, "peak_mb": max(peaks)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filers", type=int, default=5000)
    parser.add_argument("--holdings", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    print(f"+ writing a synthetic quarter: {args.filers} filings x {args.holdings} holdings")
    quarter_write(work / "edgar", filers=args.filers, holdings=args.holdings)
    with (
        postgres_server() as database,
        redis_server() as redis,
        EdgarServer(work / "edgar") as edgar,
    ):
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=database,
            REDIS_URL=redis, CELERY_BROKER_URL=redis, VAR_DIR=str(work / "var"),
            EDGAR_BASE_URL=edgar.base_url, EDGAR_USER_AGENT="Open SEC Data bench bench@example.com",
            EDGAR_MAX_REQUESTS_PER_SECOND="100000", LOG_LEVEL="WARNING",
        )  # fmt: skip
        _manage(env, "migrate", "--no-input", "-v", "0")
        results = {}
        for workers in (1, 2):
            r = results[workers] = run(workers, env, args.filers)
            print(f"{workers} worker(s): {r['seconds']:.1f} s, {r['filings_s']:.0f} filings/s, "
                  f"{r['rows_s']:.0f} holdings rows/s ({r['rows']:.0f} rows), "
                  f"peak {r['peak_mb']:.0f} MB per worker", flush=True)  # fmt: skip
        print(f"speed-up 1 -> 2 workers: {results[1]['seconds'] / results[2]['seconds']:.2f}x")
        _manage(env, "shell", "-c", "from django.db import connection; "
                "connection.cursor().execute('VACUUM ANALYZE')")  # fmt: skip
        print(_manage(env, "shell", "--no-imports", "-c", P50, capture=True), end="")


if __name__ == "__main__":
    main()
