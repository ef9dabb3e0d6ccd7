"""``manage.py ingest_13f --quarter 2020Q1 [...] [--limit N] [--no-wait] [--status]``:
whole EDGAR quarters of 13F filings into the database, through the Celery workers."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filings.edgar import EdgarError, quarter_parse, user_agent_check
from filings.ingest import ingest_failures, ingest_quarter_queue, ingest_status_counts
from filings.tasks import ingest_filings_enqueue


class Command(BaseCommand):
    help = (
        "Read EDGAR's master index of each quarter, queue its 13F-HR and 13F-HR/A filings and "
        "hand them to the Celery workers (fetch, parse, store). Filings stored or failed before "
        "are not fetched again, so an interrupted run is continued by running it again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quarter", action="append", default=[], help="e.g. 2020Q1 (repeatable)"
        )
        parser.add_argument(
            "--limit", type=int, help="only the first N 13F filings of each quarter"
        )
        parser.add_argument(
            "--status",
            action="store_true",
            help="counts per status and the failures; fetches nothing",
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="queue and return; do not follow the progress"
        )
        parser.add_argument(
            "--timeout", type=float, default=0, help="stop following after N seconds (0: never)"
        )

    def handle(self, *args: Any, quarter: list[str], limit: int | None, status: bool,
               no_wait: bool, timeout: float, **options: Any) -> None:  # fmt: skip
        quarters = []
        for text in quarter:
            try:
                year, q = quarter_parse(text)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            quarters.append(f"{year}Q{q}")
        if status:
            self._status(quarters)
            return
        if not quarters:
            raise CommandError("Name a quarter to ingest, e.g. --quarter 2020Q1.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number of filings.")
        try:
            user_agent_check()
        except EdgarError as exc:
            raise CommandError(str(exc)) from exc

        for name in quarters:
            try:
                result = ingest_quarter_queue(quarter=name, limit=limit)
            except EdgarError as exc:
                raise CommandError(f"The master index of {name} could not be read: {exc}") from exc
            tasks = ingest_filings_enqueue(ingest_ids=result.open_ids)
            self.stdout.write(
                f"{name}: {result.listed} 13F filings in the index, {result.new} new, "
                f"{len(result.open_ids)} handed to the workers ({tasks} tasks)."
            )
        if not no_wait:
            self._follow(quarters, timeout)
        self._status(quarters)

    def _follow(self, quarters: list[str], timeout: float) -> None:
        """A progress bar until no filing of these quarters is queued or being fetched."""
        started = time.monotonic()
        while True:
            counts = ingest_status_counts(quarters=quarters)
            total = sum(counts.values()) or 1
            done = counts["stored"] + counts["failed"]
            bar = "#" * (30 * done // total)
            rate = done / max(time.monotonic() - started, 0.001)
            line = (f"\r[{bar:<30}] {done}/{total}  stored {counts['stored']}  failed "
                    f"{counts['failed']}  queued {counts['queued']}  fetching {counts['fetching']}"
                    f"  {rate:.1f}/s")  # fmt: skip
            self.stdout.write(line, ending="")
            self.stdout.flush()
            if counts["queued"] + counts["fetching"] == 0:
                break
            if timeout and time.monotonic() - started > timeout:
                self.stdout.write("\nStopped following; the workers go on (see --status).")
                return
            time.sleep(0.25)  # a count on the (quarter, status) index: cheap
        self.stdout.write("")

    def _status(self, quarters: list[str]) -> None:
        counts = ingest_status_counts(quarters=quarters)
        scope = ", ".join(quarters) or "all quarters"
        self.stdout.write(f"{scope}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for row in ingest_failures(quarters=quarters):
            self.stdout.write(f"  failed {row.accession_number} ({row.company_name}): {row.reason}")
