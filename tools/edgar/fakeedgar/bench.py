"""``make bench-ingest``: a synthetic quarter through the EDGAR stand-in into PostgreSQL with 1
and with 2 Celery worker processes, then the data API over HTTP on the loaded rows.

Prints, per run: filings/s, holdings rows/s, peak memory per worker, the CPU each process
spent per filing (workers, PostgreSQL, the stand-in, Redis) and, at the end, the speed-up
from 1 to 2 workers, the p50/p95 of ``GET /api/securities/{cusip}/holders/`` and
``GET /api/filers/?q=`` through gunicorn with a premium user's JWT, and the plans of both
queries (``EXPLAIN ANALYZE``). Every run is checked: every filing stored, every row there
(a figure from a run that skipped work would be refused).

Throw-away PostgreSQL (devstack: fsync off) and Redis. The stand-in is not the SEC: the
shared limiter runs for every request (one Redis round trip each, as in production) but at
``--rate`` requests/s instead of the SEC's 10, since at 10/s any machine ingests 10 filings/s
and the figures would measure the SEC's rule, not this code (docs/deploy.md has the
arithmetic for the real archive).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from devstack import migrated
from devstack.processes import free_port, postgres_server, redis_server, wait_for_port
from fakeedgar.generate import Universe, cusip_of, quarter_write
from fakeedgar.server import EdgarServer

BACKEND = Path(__file__).resolve().parents[3] / "backend"
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")

# Run in manage.py shell: a premium user (a stored entitlement, no Stripe involved, as the
# tests' premium_user fixture) and an access token, as JSON on the last line.
PREMIUM = r"""
import json
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from accounts.services import token_pair_issue
from billing.models import BillingAccount
user = User.objects.create_user(username="bench-premium", email="bench-premium@example.com")
BillingAccount.objects.create(user=user, subscription_id="sub_bench", stripe_status="active",
                              premium_until=timezone.now() + timedelta(days=1))
print(json.dumps({"access": token_pair_issue(user=user)["access"]}))
"""

# Run in manage.py shell: the plans of the two queries (first page, as the views run them).
EXPLAIN = r"""
from filings import selectors
from filings.models import Holding, Security
security = Security.objects.get(cusip=CUSIP)
holders = selectors.holders_of(security=security)[:50]
held = Holding.objects.filter(security=security).count()
print(f"EXPLAIN ANALYZE holders of the most held security ({held} holdings), first page:")
print("  " + "\n  ".join(holders.explain(analyze=True).splitlines()))
search = selectors.filer_search(q=QUERY)[:50]
print("EXPLAIN ANALYZE filer search q=%r:" % QUERY)
print("  " + "\n  ".join(search.explain(analyze=True).splitlines()))
"""


def _manage(env: dict[str, str], *args: str) -> str:
    """``manage.py ARGS``; its output (stderr too, on failure: the system checks' warnings
    about the offline Stripe stand-in are not news here)."""
    out = subprocess.run([PY, "manage.py", *args], cwd=BACKEND, env=env, capture_output=True,
                         text=True)  # fmt: skip
    if out.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def _shell(env: dict[str, str], code: str) -> str:
    return _manage(env, "shell", "--no-imports", "-c", code)


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int | str, *, children: bool = False) -> float:
    """CPU time of a process (user + system), with its waited-for children's if asked."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def _pid_by_cmdline(*parts: bytes) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if all(part in cmdline for part in parts):
                return int(entry.name)
    raise RuntimeError(f"no process with {parts} in its command line")


def _postgres_cpu(postmaster: int) -> float:
    """PostgreSQL's CPU: the postmaster, its live children (the backends serving us, the
    writers) and the children that exited (backends of closed connections)."""
    total = _cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat(entry.name)
            except OSError:
                continue
            if fields[1] == str(postmaster):
                total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def _peak_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _machine() -> str:
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal:"))  # fmt: skip
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               "?")  # fmt: skip
    return (f"nproc {os.cpu_count()}, {cpu}, {int(mem.split()[1]) / 2**20:.1f} GiB RAM, "
            f"Python {sys.version.split()[0]}")  # fmt: skip


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(workers: int, env: dict[str, str], args: argparse.Namespace, pids: dict[str, int],
        expected_rows: int, logs: Path) -> dict[str, float]:  # fmt: skip
    """One ingest of the whole quarter on an emptied database with ``workers`` solo workers."""
    _manage(env, "flush", "--no-input")
    _shell(env, "from django.db import connection; connection.cursor().execute('VACUUM ANALYZE')")
    procs = []
    for i in range(workers):
        with open(logs / f"worker-{workers}-{i}.log", "wb") as log:
            procs.append(subprocess.Popen(
                [PY, "-m", "celery", "-A", "config", "worker", "--pool=solo",
                 "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-n", f"bench{i}@%h"],
                cwd=BACKEND, env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
    try:
        time.sleep(5)  # the workers connect
        before = {
            "workers": sum(_cpu_seconds(p.pid) for p in procs),
            "postgres": _postgres_cpu(pids["postgres"]),
            "redis": _cpu_seconds(pids["redis"]),
            "stand-in": time.process_time(),  # this process: the stand-in's threads
        }
        load = _load()
        started = time.monotonic()
        out = _manage(env, "ingest_13f", "--quarter", "2020Q1")
        elapsed = time.monotonic() - started
        cpu = {
            "workers": sum(_cpu_seconds(p.pid) for p in procs) - before["workers"],
            "postgres": _postgres_cpu(pids["postgres"]) - before["postgres"],
            "redis": _cpu_seconds(pids["redis"]) - before["redis"],
            "stand-in": time.process_time() - before["stand-in"],
        }
        peaks = [_peak_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    counts = json.loads(_shell(env, (
        "import json; from filings.models import Filing, Holding, IngestFiling; "
        "print(json.dumps({'rows': Holding.objects.count(), 'filings': Filing.objects.count(), "
        "'stored': IngestFiling.objects.filter(status='stored').count()}))"
    )).strip().splitlines()[-1])  # fmt: skip
    # No figure from a run that skipped work: every filing stored, every holding there.
    if counts != {"rows": expected_rows, "filings": args.filers, "stored": args.filers}:
        raise SystemExit(f"incomplete ingest: {counts}, expected {expected_rows} rows of "
                         f"{args.filers} filings\n{out}")  # fmt: skip
    per_filing = {f"cpu_{k}": v * 1000 / args.filers for k, v in cpu.items()}
    return {"seconds": elapsed, "filings_s": args.filers / elapsed,
            "rows_s": counts["rows"] / elapsed, "rows": counts["rows"], "peak_mb": max(peaks),
            "load": load, **per_filing}  # fmt: skip


def _get(port: int, path: str, token: str) -> float:
    """One GET over a new connection (gunicorn's sync workers close each one); seconds."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    body = answer.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if answer.status != 200:
        raise SystemExit(f"GET {path} answered {answer.status}: {body[:300]!r}")
    return elapsed


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def api(env: dict[str, str], args: argparse.Namespace, universe: Universe) -> None:
    """The p50 of the two endpoints over HTTP, through gunicorn (2 sync workers, as in
    production minus NGINX), as a premium user with a JWT."""
    token = json.loads(_shell(env, PREMIUM).strip().splitlines()[-1])["access"]
    port = free_port()
    # LOG_LEVEL=ERROR: no warning line per 404 of a CUSIP nobody holds.
    server_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2",
                      LOG_LEVEL="ERROR")  # fmt: skip
    gunicorn = subprocess.Popen(
        [PY, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi:application"],
        cwd=BACKEND, env=server_env,
    )  # fmt: skip
    rng = random.Random(7)
    try:
        wait_for_port(port, proc=gunicorn)
        # What users look up: securities by the same popularity as the holdings (the most
        # held most often), and some of the long tail; filers by a part of a name or a CIK.
        popular = [cusip_of(r) for r in universe.draw(args.api_requests // 2, rng)]
        anyone = [cusip_of(rng.randint(1, universe.size)) for _ in range(args.api_requests // 2)]
        names = [f"capital {rng.randrange(args.filers)}" for _ in range(args.api_requests // 2)]
        names += [
            str(5_000_000 + rng.randrange(args.filers)) for _ in range(args.api_requests // 4)
        ]
        names += [f"capital {rng.randrange(10, 100)}" for _ in range(args.api_requests // 4)]
        for cusip in popular[:10]:  # the first requests of each gunicorn worker load the app
            _get(port, f"/api/securities/{cusip}/holders/", token)
        held = [c for c in popular + anyone if _held(port, c, token)]
        times = {
            "holders, popular": [_get(port, f"/api/securities/{c}/holders/", token)
                                 for c in popular if c in held],
            "holders, any held": [_get(port, f"/api/securities/{c}/holders/", token)
                                  for c in anyone if c in held],
            "filer search": [_get(port, f"/api/filers/?q={quote(q)}", token) for q in names],
        }  # fmt: skip
        top = [_get(port, f"/api/securities/{cusip_of(1)}/holders/", token) for _ in range(20)]
    finally:
        gunicorn.terminate()
        gunicorn.wait(30)
    every = times["holders, popular"] + times["holders, any held"]
    print(f"data API over HTTP (gunicorn, 2 sync workers, premium JWT), load {_load()}:")
    print(
        f"  GET /api/securities/{{cusip}}/holders/  p50 {_p(every, 0.5):.1f} ms  "
        f"p95 {_p(every, 0.95):.1f} ms  ({len(every)} requests)"
    )
    for name, values in times.items():
        print(
            f"    {name:<18} p50 {_p(values, 0.5):.1f} ms  p95 {_p(values, 0.95):.1f} ms  "
            f"({len(values)} requests)"
        )
    print(f"    the most held security ({cusip_of(1)}): p50 {_p(top, 0.5):.1f} ms")
    search = times["filer search"]
    print(
        f"  GET /api/filers/?q=  p50 {_p(search, 0.5):.1f} ms  p95 {_p(search, 0.95):.1f} ms  "
        f"({len(search)} requests: part of a name, a CIK, a short part)"
    )


def _held(port: int, cusip: str, token: str) -> bool:
    """A security in the database (the long tail of the universe is not all held)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", f"/api/securities/{cusip}/holders/?page_size=1",
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    status = connection.getresponse().status
    connection.close()
    return status == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filers", type=int, default=5000)
    parser.add_argument("--holdings", type=int, default=100)
    parser.add_argument("--securities", type=int, default=10_000, help="CUSIPs to draw from")
    parser.add_argument("--rate", type=int, default=2000,
                        help="EDGAR_MAX_REQUESTS_PER_SECOND for the stand-in")  # fmt: skip
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--api-requests", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {_machine()}; load average {_load()}")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        _bench(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the quarter alone is 300 MB


def _bench(args: argparse.Namespace, work: Path) -> None:
    """The quarter written under ``work``, the runs, the plans, the API."""
    print(f"+ writing a synthetic quarter: {args.filers} filings x {args.holdings} holdings "
          f"from {args.securities} securities (Zipf-like popularity)", flush=True)  # fmt: skip
    quarter_write(work / "edgar", filers=args.filers, holdings=args.holdings,
                  securities=args.securities)  # fmt: skip
    universe = Universe(max(args.securities, 2 * args.holdings))
    with (
        postgres_server() as database,
        redis_server() as redis,
        EdgarServer(work / "edgar") as edgar,
    ):
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false",
            DATABASE_URL=database, REDIS_URL=redis, CELERY_BROKER_URL=redis,
            VAR_DIR=str(work / "var"), EDGAR_BASE_URL=edgar.base_url,
            EDGAR_USER_AGENT="Open SEC Data bench bench@example.com",
            EDGAR_MAX_REQUESTS_PER_SECOND=str(args.rate), LOG_LEVEL="WARNING",
        )  # fmt: skip
        pids = {
            "postgres": _pid_by_cmdline(b"postgres", f"-p\0{urlsplit(database).port}\0".encode()),
            "redis": _pid_by_cmdline(b"redis-server", f":{urlsplit(redis).port}".encode()),
        }
        migrated.migrate(env, lambda: _manage(env, "migrate", "--no-input", "-v", "0"))
        chunk = _shell(env, "from django.conf import settings; print(settings.EDGAR_INGEST_CHUNK)")
        print(f"+ limiter at {args.rate} requests/s (the SEC's is 10), {chunk.strip()} filings "
              "per task, solo workers", flush=True)  # fmt: skip
        expected = args.filers * args.holdings
        results = {}
        for workers in [int(w) for w in args.workers.split(",")]:
            r = results[workers] = run(workers, env, args, pids, expected, work)
            print(f"{workers} worker(s): {r['seconds']:.1f} s, {r['filings_s']:.0f} filings/s, "
                  f"{r['rows_s']:,.0f} holdings rows/s ({r['rows']:,} rows), peak "
                  f"{r['peak_mb']:.0f} MB per worker; load average at start {r['load']}\n"
                  f"  CPU per filing: workers {r['cpu_workers']:.1f} ms, PostgreSQL "
                  f"{r['cpu_postgres']:.1f} ms, stand-in {r['cpu_stand-in']:.1f} ms, Redis "
                  f"{r['cpu_redis']:.2f} ms", flush=True)  # fmt: skip
        if 1 in results and 2 in results:
            print(f"speed-up 1 -> 2 workers: {results[1]['seconds'] / results[2]['seconds']:.2f}x")
        _shell(
            env, "from django.db import connection; connection.cursor().execute('VACUUM ANALYZE')"
        )
        print(_shell(env, f"CUSIP = {cusip_of(1)!r}; QUERY = 'capital 12'\n" + EXPLAIN), end="")
        api(env, args, universe)
        print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
