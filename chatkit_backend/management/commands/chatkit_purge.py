"""Delete threads inactive for a number of days (retention), or everything one user owns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from chatkit_backend.conf import conf
from chatkit_backend.retention import (
    DEFAULT_BATCH_SIZE,
    AttachmentSummary,
    Purge,
    PurgeBatch,
    PurgeTotals,
    ThreadSummary,
    find_user,
    plural,
    printable,
)


def describe(totals: PurgeTotals) -> str:
    return (
        f"{plural(totals.threads, 'thread')}, {plural(totals.items, 'item')}, "
        f"{plural(totals.attachments, 'attachment')} ({plural(totals.files, 'file')}), "
        f"{plural(totals.usage, 'usage row')}"
        # Only sites with a DAILY_TOKEN_BUDGET keep daily counters: elsewhere, say nothing.
        + (f", {plural(totals.daily_counters, 'daily counter')}" if totals.daily_counters else "")
    )


def positive_days(value: Any, source: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if days < 1 or str(days) != str(value).strip():
        raise CommandError(f"{source} must be a whole number of days, 1 or more (got {value!r}).")
    return days


class Command(BaseCommand):
    help = (
        "Delete threads with no activity for DAYS (default: CHATKIT_BACKEND['RETENTION_DAYS']) "
        "with their items, attachments and files, and usage; or, with --user, everything one "
        "user owns. Works in batches; --dry-run lists what would go."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--older-than",
            metavar="DAYS",
            help="Threads whose last activity is more than DAYS days ago (whole days, >= 1).",
        )
        which.add_argument(
            "--user", metavar="USERNAME", help="Erase everything this user owns in ChatKit."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Rows read, and threads deleted, per batch (default: {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        self.dry_run: bool = options["dry_run"]
        self.verbosity: int = options["verbosity"]
        if options["user"]:
            try:
                user = find_user(options["user"])
            except LookupError as error:
                raise CommandError(str(error)) from None
            purge = Purge.of_user(user, batch_size)
            self.stdout.write(
                f"{'Dry run: the' if self.dry_run else 'The'} ChatKit data of user "
                f"{printable(user.get_username())} (id {user.pk}): threads, attachments, usage, "
                "daily budget counters."
            )
        else:
            if options["older_than"] is not None:
                days = positive_days(options["older_than"], "--older-than")
            elif conf.RETENTION_DAYS is not None:
                days = positive_days(conf.RETENTION_DAYS, "CHATKIT_BACKEND['RETENTION_DAYS']")
            else:
                raise CommandError(
                    "Nothing to purge: CHATKIT_BACKEND['RETENTION_DAYS'] is not set, which "
                    "means keep everything. Pass --older-than DAYS or --user USERNAME, or set "
                    "RETENTION_DAYS."
                )
            cutoff = timezone.now() - timedelta(days=days)
            purge = Purge.inactive_since(cutoff, batch_size)
            self.stdout.write(
                f"{'Dry run: threads' if self.dry_run else 'Threads'} with no activity for "
                f"{plural(days, 'day')} (since {cutoff:%Y-%m-%d %H:%M %Z}), and older uploads, "
                "usage outside any thread and daily budget counters."
            )

        for batch in purge.run(dry_run=self.dry_run):
            self.report(batch, purge.totals)
        verb = "Would delete" if self.dry_run else "Deleted"
        self.stdout.write(self.style.SUCCESS(f"{verb} {describe(purge.totals)}."))

    # -- output ----------------------------------------------------------------------------

    @property
    def verb(self) -> str:
        return "would delete" if self.dry_run else "deleted"

    @property
    def passive(self) -> str:
        return "would be deleted" if self.dry_run else "deleted"

    def listing(self) -> bool:
        """Each row is listed in a dry run, and with -v 2 in a real one."""
        return self.verbosity >= (1 if self.dry_run else 2)

    def report(self, batch: PurgeBatch, totals: PurgeTotals) -> None:
        if self.verbosity < 1:
            return
        if batch.kind == "threads":
            if self.listing():
                for thread in batch.threads:
                    self.stdout.write(self.thread_line(thread))
            if batch.kept:
                self.stdout.write(f"  kept {plural(batch.kept, 'thread')} active again meanwhile")
            self.stdout.write(
                f"batch: {plural(len(batch.threads), 'thread')} {self.passive} "
                f"({totals.threads} so far)"
            )
        elif batch.kind == "attachments":
            if self.listing():
                for attachment in batch.attachments:
                    self.stdout.write(self.attachment_line(attachment))
            self.stdout.write(
                f"batch: {plural(len(batch.attachments), 'attachment')} outside threads "
                f"{self.passive}"
            )
        elif batch.kind == "usage":
            self.stdout.write(
                f"batch: {plural(batch.usage, 'usage row')} outside threads {self.passive}"
            )
        else:
            self.stdout.write(
                f"batch: {plural(batch.daily_counters, 'daily budget counter')} {self.passive}"
            )

    def thread_line(self, thread: ThreadSummary) -> str:
        title = f' "{printable(thread.title)}"' if thread.title else ""
        return (
            f"  {self.verb} thread {thread.id}{title} ({printable(thread.owner)}, last activity "
            f"{thread.updated_at:%Y-%m-%d %H:%M}): {plural(thread.items, 'item')}, "
            f"{plural(thread.attachments, 'attachment')} ({plural(thread.files, 'file')}), "
            f"{plural(thread.usage, 'usage row')}"
        )

    def attachment_line(self, attachment: AttachmentSummary) -> str:
        stored = "with its file" if attachment.has_file else "no file"
        return (
            f'  {self.verb} attachment {attachment.id} "{printable(attachment.name)}" '
            f"({printable(attachment.owner)}, created {attachment.created_at:%Y-%m-%d %H:%M}, "
            f"{stored})"
        )
