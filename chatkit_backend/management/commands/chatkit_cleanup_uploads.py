"""Delete uploads that were never attached to a message (abandoned composers, failed sends),
and files a presigned URL received after its attachment was checked or deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from chatkit_backend.attachments import get_storage, stray_incoming_before, unattached_before


class Command(BaseCommand):
    help = "Delete attachments never attached to a message after a given age (bytes and rows)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=24.0,
            metavar="HOURS",
            help="Only uploads created more than HOURS ago (default: 24).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, older_than: float, dry_run: bool, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(hours=older_than)
        stale = unattached_before(cutoff)
        count = 0
        # One row at a time: each row's post_delete receiver removes its file from storage.
        for attachment in stale.iterator():
            count += 1
            self.stdout.write(
                f"{'would delete' if dry_run else 'deleting'} {attachment.id} "
                f"({attachment.name}, {attachment.created_at:%Y-%m-%d %H:%M})"
            )
            if not dry_run:
                attachment.delete()
        strays = stray_incoming_before(cutoff)
        for name in strays:
            self.stdout.write(f"{'would delete' if dry_run else 'deleting'} stray file {name}")
            if not dry_run:
                get_storage().delete(name)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {count} unattached upload(s) and {len(strays)} stray presigned file(s)."
            )
        )
