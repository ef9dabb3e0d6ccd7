"""`make chaos`: the production topology under faults, with nothing lost and nothing done twice.

    cd backend && python -m chaos.run [--scenarios 1,2,3,4,5,6] [--json PATH] [--help]

Starts `make stack`'s processes (chaos.topology: NGINX, gunicorn, Celery worker and beat,
PostgreSQL, Redis, the Stripe and mail stand-ins, restarted like Compose restarts them), makes
``--customers`` paid subscriptions at the stand-in, then runs each scenario (chaos.scenarios):

1. it changes some of those subscriptions at Stripe (the stand-in sends its own webhooks) and
   builds ``--events`` signed events around their states, old ones included, plus 20 %
   duplicates, shuffled (so out of order);
2. it sends them through NGINX over the fault's window, each retried like Stripe retries until
   a 2xx; ``--buyers`` new users buy Premium through the API (a JWT, a test card) and some
   cancel, retrying a 5xx like a person clicking again;
3. meanwhile the fault breaks its part of the topology and repairs it;
4. it waits until every acknowledged event is processed and every account equals what
   Stripe's subscriptions give, and counts.

One line per scenario: events sent / acknowledged 2xx / answered 5xx (Stripe retries) /
stored / processed / **lost** / **processed twice** (side effects: events applied twice +
billing e-mails delivered twice, by Message-ID, chaos.mail) / e-mails delivered (and how many
of them were resent because their worker was killed while sending them: at least once by
design, reported, not a failure) / accounts
matching Stripe / seconds from the fault's repair until all converged; purchases: attempts /
subscriptions created / **duplicates**. The report goes to ``--json`` (make chaos:
var/test-results/chaos.json); exit status 1 if anything was lost or done twice (an e-mail
sent twice included, unless its sender was killed while sending it), a purchase was
duplicated, an account stayed wrong, a scenario did not converge within
``--converge-timeout``, or a check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.mail import emails_count, maildir_ids
from chaos.scenarios import FAULTS, Context, Fault
from chaos.topology import SWEEP_BOUND, WEBHOOK_RETRIES, Topology, topology_up
from chaos.traffic import Burst, Buyers, Purchase
from devstack.paths import ROOT, say

COLUMNS = (
    f"{'scenario':<40} {'sent':>5} {'2xx':>5} {'5xx':>5} {'stored':>6} {'done':>5} "
    f"{'lost':>4} {'twice':>5} {'mails':>5} {'accounts':>8} {'conv s':>6}   "
    f"{'buys':>4} {'subs':>4} {'dup':>3}"
)


@dataclass
class Row:
    """One scenario's outcome (a line of the table, an entry of the JSON report)."""

    number: int
    title: str
    sent: int = 0
    acknowledged: int = 0
    answered_5xx: int = 0
    unacknowledged: int = 0
    stored: int = 0
    processed: int = 0
    failed: int = 0
    lost: int = 0
    #: Events whose effect was committed more than once (the worker's log).
    processed_twice: int = 0
    #: Billing e-mails (distinct Message-IDs) delivered more than once, and all deliveries.
    emails_twice: int = 0
    emails_sent: int = 0
    #: E-mails delivered again because the scenario killed their sender mid-send (by design).
    emails_resent: int = 0
    accounts_matching: int = 0
    accounts: int = 0
    converged_seconds: float | None = None
    purchase_attempts: int = 0
    subscriptions_created: int = 0
    duplicates: int = 0
    checks: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def side_effects_twice(self) -> int:
        """The "twice" figure: events applied twice and e-mails delivered twice."""
        return self.processed_twice + self.emails_twice

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.side_effects_twice == 0
            and self.duplicates == 0
            and self.unacknowledged == 0
            and self.accounts_matching == self.accounts
            and self.converged_seconds is not None
            and all(self.checks.values())
        )

    @property
    def emails(self) -> str:
        """The e-mails cell: deliveries, and the resent ones among them if any."""
        resent = f" ({self.emails_resent} resent)" if self.emails_resent else ""
        return f"{self.emails_sent}{resent}"

    def line(self) -> str:
        converged = f"{self.converged_seconds:.1f}" if self.converged_seconds is not None else "-"
        name = f"{self.number} {self.title}"
        return (
            f"{name:<40} {self.sent:>5} {self.acknowledged:>5} {self.answered_5xx:>5} "
            f"{self.stored:>6} {self.processed:>5} {self.lost:>4} {self.side_effects_twice:>5} "
            f"{self.emails:>5} "
            f"{f'{self.accounts_matching}/{self.accounts}':>8} {converged:>6}   "
            f"{self.purchase_attempts:>4} {self.subscriptions_created:>4} {self.duplicates:>3}"
            + ("" if self.ok else "   FAILED")
        )

    def markdown(self) -> str:
        converged = f"{self.converged_seconds:.1f}" if self.converged_seconds is not None else "-"
        return (
            f"| {self.number}. {self.title} | {self.sent} | {self.acknowledged} | "
            f"{self.answered_5xx} | {self.stored} | {self.processed} | **{self.lost}** | "
            f"**{self.side_effects_twice}** | {self.emails} | "
            f"{self.accounts_matching}/{self.accounts} | "
            f"{converged} | {self.purchase_attempts} / {self.subscriptions_created} / "
            f"**{self.duplicates}** |"
        )


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    cpu, memory = "?", 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_mib": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def django_setup(topology: Topology) -> None:
    """This process becomes one more Django process of the topology (its settings and
    database), to make users and to read what the app stored."""
    os.environ.update(topology.environ)
    os.environ["LOG_LEVEL"] = "WARNING"  # the runner's own Django logs nothing routine
    os.environ["OPENSEC_STACK_QUIET"] = "1"
    import django

    django.setup()


def stand_in_deliveries(topology: Topology) -> list[dict[str, Any]]:
    """The stand-in's deliveries to the app (``GET /_config/deliveries``)."""
    return [d for d in topology.fake.deliveries() if d["target"] == "app"]


def deliveries_settle(topology: Topology, known: set[str], deadline: float) -> list[dict]:
    """The stand-in's deliveries not in ``known``, once each is delivered or out of retries."""
    attempts = len(WEBHOOK_RETRIES) + 1
    while True:
        new = [d for d in stand_in_deliveries(topology) if d["event"] not in known]
        pending = [d for d in new if not d["delivered"] and d["attempts"] < attempts]
        if not pending or time.monotonic() > deadline:
            return new
        time.sleep(0.5)


def scenario(
    fault: Fault,
    topology: Topology,
    args: argparse.Namespace,
    world: World,
) -> Row:
    from chaos import observe

    row = Row(fault.number, fault.title.format(**vars(args)))
    say(f"scenario {row.number}: {row.title}")
    rng = world.rng
    known = {d["event"] for d in stand_in_deliveries(topology)}
    changed = rng.sample(world.customers, k=min(args.changed, len(world.customers)))
    states = observe.subscriptions_change(world.client, changed, rng)
    tag = f"{world.run}_s{fault.number}"
    bodies = observe.burst_bodies(states, size=args.events, tag=tag, rng=rng)
    purchases = [
        Purchase(user_id, token, cancel=("", "now", "at_period_end")[i % 3])
        for i, (user_id, token) in enumerate(observe.buyers_create(args.buyers))
    ]

    def change_more() -> list[int]:
        more = rng.sample(world.customers, k=min(args.changed, len(world.customers)))
        observe.subscriptions_change(world.client, more, rng)
        return [c.user_id for c in more]

    ctx = Context(topology, args, rng, change_subscriptions=change_more)
    log_mark = _size(topology.worker_log)
    mail_mark = set(maildir_ids(topology.maildir))
    fault.arm(ctx)
    seconds = fault.burst_seconds(args)
    deadline = time.monotonic() + seconds + args.retry_window
    burst = Burst(topology.webhook_url, topology.webhook_secret, bodies, seconds=seconds)
    shop = Buyers(topology.url, purchases, seconds=seconds / 2)
    burst.start(deadline=deadline)
    shop.start(deadline=deadline)
    fault.run(ctx)
    repaired = time.monotonic()
    say(f"scenario {row.number}: repaired; waiting for Stripe's retries and the worker")
    burst.join()
    shop.join()
    new = deliveries_settle(topology, known, deadline)

    ours = burst.deliveries
    row.sent = len(ours) + len(new)
    row.acknowledged = sum(d.acknowledged for d in ours) + sum(d["delivered"] for d in new)
    row.answered_5xx = sum(d.failed_attempts for d in ours) + sum(
        d["attempts"] - int(d["delivered"]) for d in new
    )
    row.unacknowledged = row.sent - row.acknowledged
    acked = {d.event_id for d in ours if d.acknowledged}
    acked |= {d["event"] for d in new if d["delivered"]}
    world.buyers += [p.user_id for p in purchases if p.bought]
    users = [c.user_id for c in world.customers] + world.buyers

    limit = repaired + args.converge_timeout
    state = observe.inbox_state(acked)
    wrong: list[int] = []
    while time.monotonic() < limit:
        state = observe.inbox_state(acked)
        if not state.waiting:
            wrong = observe.accounts_mismatched(world.client, users)
            if not wrong:
                row.converged_seconds = round(max(0.0, time.monotonic() - repaired), 1)
                break
        time.sleep(0.5 if state.waiting else 2)
    else:
        wrong = observe.accounts_mismatched(world.client, users)

    row.stored, row.processed, row.failed = state.stored, state.processed, state.failed
    row.lost = len(state.waiting)
    applied = observe.applied_counts(topology.worker_log)
    row.processed_twice = sum(1 for event_id in acked if applied[event_id] > 1)
    # The mails of the processed events go out after them: until none is pending or sending
    # (a copy sent again would arrive by then), at most a sweep bound past the convergence's.
    mail_limit = max(limit, time.monotonic() + SWEEP_BOUND)
    while (unsettled := observe.emails_unsettled()) and time.monotonic() < mail_limit:
        time.sleep(0.5)
    mails = emails_count(
        topology.maildir, before=mail_mark, killed_while_sending=ctx.killed_while_sending
    )
    row.emails_sent, row.emails_twice = mails.sent, len(mails.twice)
    row.emails_resent = len(mails.resent)
    row.accounts, row.accounts_matching = len(users), len(users) - len(wrong)
    row.purchase_attempts = sum(len(p.answers) for p in purchases)
    created = observe.subscriptions_of(world.client, [p.user_id for p in purchases])
    row.subscriptions_created = sum(created.values())
    row.duplicates = sum(max(0, n - 1) for n in created.values())
    row.checks = ctx.checks
    row.notes = ctx.notes | _answers(burst, purchases)
    row.notes["tasks lost with their pool process (WorkerLostError)"] = _log_since(
        topology.worker_log, log_mark
    ).count("WorkerLostError(")
    row.notes["events claimed more than once"] = observe.claimed_again(acked)
    row.notes["e-mails delivered more than once (Message-IDs)"] = mails.twice[:20]
    row.notes["e-mails held sending by a killed process"] = len(ctx.killed_while_sending)
    row.notes["of them delivered again (resent by design)"] = mails.resent[:20]
    if unsettled:
        row.notes["e-mails still pending or sending when counted"] = unsettled
    if fault.number == 3:
        row.checks["receiver answers 2xx while Redis is down (stored; the sweep wakes)"] = all(
            d.failed_attempts == 0 for d in ours
        )
    if fault.number == 4:
        errors = [d.error_body for d in ours if d.error_body is not None]
        row.checks["receiver answers 503 JSON storage_unavailable while PostgreSQL is down"] = (
            bool(errors)
            and all(isinstance(e, dict) and e.get("code") == "storage_unavailable" for e in errors)
            and all(a == 503 for d in ours for a in d.answers if a != 200)
        )
    if wrong:
        row.notes["accounts not matching Stripe (user ids)"] = wrong[:20]
    if state.waiting:
        row.notes["not processed (event ids)"] = state.waiting[:20]
    print(row.line(), flush=True)
    return row


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _log_since(path: Path, offset: int) -> str:
    """What a log got after ``offset`` (its size when the scenario began)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _answers(burst: Burst, purchases: list[Purchase]) -> dict[str, Any]:
    """How the receiver and the purchase endpoint answered, status → count."""

    def tally(values: list[Any]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value in values:
            counts[str(value)] = counts.get(str(value), 0) + 1
        return dict(sorted(counts.items()))

    return {
        "receiver answers": tally([a for d in burst.deliveries for a in d.answers]),
        "purchase answers": tally([a for p in purchases for a in p.answers]),
        "cancel answers": tally([a for p in purchases for a in p.cancel_answers]),
    }


@dataclass
class World:
    """The runner's own state across scenarios: the stand-in client, the customers with
    subscriptions at Stripe, the buyers so far."""

    client: Any
    customers: list[Any]
    rng: random.Random
    buyers: list[int] = field(default_factory=list)
    #: In every event id of this run.
    run: str = field(default_factory=lambda: secrets.token_hex(3))


def settle(topology: Topology, world: World, timeout: float) -> float:
    """After the set-up: until the stand-in's webhooks are in and every account matches."""
    from chaos import observe

    start = time.monotonic()
    deliveries_settle(topology, set(), start + timeout)
    ids = {d["event"] for d in stand_in_deliveries(topology) if d["delivered"]}
    users = [c.user_id for c in world.customers]
    while time.monotonic() < start + timeout:
        if not observe.inbox_state(ids).waiting and not observe.accounts_mismatched(
            world.client, users
        ):
            return time.monotonic() - start
        time.sleep(1)
    raise RuntimeError("the set-up did not settle: the stack does not process webhooks")


def report(rows: list[Row], args: argparse.Namespace, started: float, load: list) -> dict:
    passed = sum(row.ok for row in rows)
    return {
        "passed": passed,
        "failed": len(rows) - passed,
        "skipped": 0,
        "ok": passed == len(rows),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": {**machine(), "load_average_at_start": load},
        "command": "make chaos" + (f" CHAOS_ARGS='{args.argv}'" if args.argv else ""),
        "settings": {
            "customers": args.customers,
            "events per scenario": args.events,
            "duplicates": "20 %",
            "buyers per scenario": args.buyers,
            "sweep bound (s)": SWEEP_BOUND,
            "stand-in retries (s)": WEBHOOK_RETRIES,
        },
        "scenarios": [
            asdict(row) | {"processed_twice_side_effects": row.side_effects_twice, "ok": row.ok}
            for row in rows
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--scenarios", default="1,2,3,4,5,6", help="which, comma-separated (default: all)")
    add("--customers", type=int, default=24, help="paid subscriptions made at the stand-in")
    add("--changed", type=int, default=8, help="subscriptions changed at Stripe per scenario")
    add("--events", type=int, default=200, help="distinct signed events per scenario (+20 %%)")
    add("--buyers", type=int, default=3, help="purchases through the API per scenario")
    add("--burst-seconds", type=float, default=15, help="burst window (scenarios 1, 2, 4, 5)")
    add("--pool-kills", type=int, default=8, help="scenario 1: pool processes SIGKILLed")
    add("--redis-down", type=float, default=30, help="scenario 3: seconds Redis is down")
    add("--postgres-down", type=float, default=5, help="scenario 4: seconds PostgreSQL is down")
    add("--app-down", type=float, default=60, help="scenario 6: seconds the app is down")
    add("--retry-window", type=float, default=300, help="how long deliveries are retried")
    add("--converge-timeout", type=float, default=150, help="after a repair, at most")
    add("--seed", type=int, default=13)
    add("--log-dir", default=str(ROOT / "var" / "chaos"), help="the processes' logs")
    add("--json", default=str(ROOT / "var" / "test-results" / "chaos.json"), help="the report")
    args = parser.parse_args(argv)
    args.argv = " ".join(argv if argv is not None else sys.argv[1:])
    try:
        chosen = [FAULTS[int(n) - 1] for n in args.scenarios.split(",")]
    except (ValueError, IndexError):
        parser.error("--scenarios: numbers from 1 to 6, comma-separated")
    if not (1 <= args.events <= 2000 and 1 <= args.customers <= 200 and args.buyers <= 20):
        parser.error("keep it bounded: --events <= 2000, --customers <= 200, --buyers <= 20")

    started, load = time.monotonic(), [round(x, 2) for x in os.getloadavg()]
    say(f"load average now: {' '.join(map(str, load))} (timings are only as good as the "
        "machine is quiet)")  # fmt: skip
    rows: list[Row] = []
    with topology_up(log_dir=Path(args.log_dir).resolve()) as topology:
        django_setup(topology)
        from chaos import observe

        client = observe.stand_in(topology.fake.url or "", topology.fake.secret_key)
        say(f"{args.customers} paid subscriptions at the stand-in")
        customers = observe.customers_create(client, args.customers)
        world = World(client, customers, random.Random(args.seed))
        say(f"set-up settled in {settle(topology, world, 120):.1f} s")
        print("\n" + COLUMNS, flush=True)
        for fault in chosen:
            rows.append(scenario(fault, topology, args, world))
    result = report(rows, args, started, load)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print("\n| scenario | sent | 2xx | 5xx | stored | processed | lost | twice | e-mails "
          "| accounts | converged (s) | purchases: attempts / created / duplicates |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())
    m = result["machine"]
    print(f"\n{m['nproc']} CPUs ({m['cpu']}), {m['ram_mib'] // 1024} GiB, load average at the "
          f"start {' '.join(map(str, load))}; {result['seconds']:.0f} s; report {out}")  # fmt: skip
    lost = sum(r.lost for r in rows)
    twice = sum(r.processed_twice for r in rows)
    emails_twice = sum(r.emails_twice for r in rows)
    resent = sum(r.emails_resent for r in rows)
    duplicates = sum(r.duplicates for r in rows)
    print(f"chaos: {result['passed']} passed, {result['failed']} failed (lost {lost}, processed "
          f"twice {twice + emails_twice}: {twice} events, {emails_twice} e-mails; duplicate "
          f"subscriptions {duplicates}; e-mails resent after their sender was killed mid-send "
          f"{resent})", flush=True)  # fmt: skip
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
