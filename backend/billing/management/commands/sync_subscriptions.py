"""Nightly reconciliation: re-read every customer's subscriptions from Stripe, fix drift."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing import sync


class Command(BaseCommand):
    help = (
        "Re-read the subscriptions of every billing account that has a Stripe customer and "
        "store what Stripe has; print what changed. --dry-run only reports."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report the drift without writing anything"
        )
        parser.add_argument(
            "--customer", action="append", default=[], metavar="CUS_ID",
            help="only this Stripe customer (repeatable)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        if options["customer"]:
            results = [
                sync.customer_sync(customer_id=c, dry_run=dry_run) for c in options["customer"]
            ]
        else:
            results = sync.subscriptions_reconcile(dry_run=dry_run)
        for result in results:
            if result.changes or result.outcome not in ("unchanged",):
                self.stdout.write(result.describe())
        changed = sum(1 for r in results if r.changes)
        errors = sum(1 for r in results if r.outcome.startswith("error"))
        verb = "would change" if dry_run else "changed"
        self.stdout.write(
            f"{len(results)} account(s) checked, {changed} {verb}, {errors} error(s)"
            + (" (dry run: nothing written)" if dry_run else "")
        )
