"""``manage.py load_13f PATH... | --demo``: load SEC 13F-HR filings, idempotently."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filings.parser import FilingParseError
from filings.services import demo_filing_paths, filing_load_file


class Command(BaseCommand):
    help = (
        "Load SEC Form 13F-HR filings (.txt full submission or .nc dissemination files, or "
        "folders of them). Filings already loaded are skipped, so running it twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="filing files or folders")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="load the demo filings shipped in filings/data/sec13f",
        )

    def handle(self, *args: Any, paths: list[Path], demo: bool, **options: Any) -> None:
        files = list(demo_filing_paths()) if demo else []
        for path in paths:
            if path.is_dir():
                files.extend(sorted(p for p in path.iterdir() if p.suffix in (".txt", ".nc")))
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"{path} does not exist.")
        if not files:
            raise CommandError("Name filing files or folders to load, or pass --demo.")

        loaded = skipped = unreadable = 0
        for path in files:
            try:
                result = filing_load_file(path=path)
            except FilingParseError as exc:
                unreadable += 1
                self.stderr.write(f"skipped {path.name}: {exc}")
                continue
            filing = result.filing
            summary = (
                f"{filing.filer.name} (CIK {filing.filer.cik}), period {filing.period_of_report}, "
                f"{filing.holdings_count} holdings, ${filing.total_value:,}"
            )
            if result.created:
                loaded += 1
                self.stdout.write(f"loaded {filing.accession_number}: {summary}")
            else:
                skipped += 1
                self.stdout.write(f"skipped {filing.accession_number}: already loaded ({summary})")
        self.stdout.write(
            self.style.SUCCESS(
                f"{loaded} loaded, {skipped} already loaded, {unreadable} not readable as 13F."
            )
        )
