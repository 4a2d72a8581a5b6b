"""Purges: inactive threads, or everything one user owns, a committed page at a time.

Each page of a purge is its own transaction: a purge stopped half-way has deleted whole
threads only, and running it again finishes the job. Attachment files go through the
``post_delete`` receiver that deletes them when a user deletes a thread, once each page commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.db.models import Count, QuerySet

from .. import models
from ..context import Owner
from .pages import DEFAULT_BATCH_SIZE, delete_in_pages, pages
from .terminal import owner_label


def _counts_by_thread(queryset: QuerySet[Any], thread_ids: list[str]) -> dict[str, int]:
    rows = (
        queryset.filter(thread_id__in=thread_ids)
        .order_by()
        .values_list("thread_id")
        .annotate(count=Count("pk"))
    )
    return dict(rows)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ThreadSummary:
    """One thread a purge deletes (or would delete), with what goes with it."""

    id: str
    title: str | None
    owner: str
    updated_at: datetime
    items: int
    attachments: int
    files: int
    usage: int


@dataclass(frozen=True)
class AttachmentSummary:
    """An attachment outside the purged threads (never attached, or its thread is gone)."""

    id: str
    name: str
    owner: str
    created_at: datetime
    has_file: bool


@dataclass
class PurgeTotals:
    threads: int = 0
    items: int = 0
    attachments: int = 0
    files: int = 0
    usage: int = 0
    daily_counters: int = 0


@dataclass
class PurgeBatch:
    """One page of a purge, as it was deleted (or, in a dry run, as it would be)."""

    kind: Literal["threads", "attachments", "usage", "daily_counters"]
    threads: list[ThreadSummary] = field(default_factory=list)
    attachments: list[AttachmentSummary] = field(default_factory=list)
    usage: int = 0
    daily_counters: int = 0
    kept: int = 0  # threads active again by the time their page was deleted


class Purge:
    """What a purge deletes: whole threads (items, attachments and their files, usage), then
    attachments and usage rows outside those threads, then daily budget counters.

    Build one with :meth:`inactive_since` or :meth:`of_user`, then iterate :meth:`run`; each
    step yields a :class:`PurgeBatch` once its page is committed, and ``totals`` adds up.
    """

    def __init__(
        self,
        threads: QuerySet[models.Thread],
        loose_attachments: QuerySet[models.Attachment],
        loose_usage: QuerySet[models.TurnUsage],
        daily_counters: QuerySet[models.DailyUsage],
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        self.threads = threads
        self.loose_attachments = loose_attachments
        self.loose_usage = loose_usage
        self.daily_counters = daily_counters
        self.batch_size = batch_size
        self.totals = PurgeTotals()

    @classmethod
    def inactive_since(cls, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> Purge:
        """Threads with no activity since ``cutoff`` (``Thread.updated_at``), with everything
        in them; also uploads never attached and usage rows of threads deleted earlier, when
        they are older than ``cutoff``, and the daily budget counters of days before it (an
        anonymous visitor's counter holds their network address)."""
        return cls(
            models.Thread.objects.filter(updated_at__lt=cutoff),
            models.Attachment.objects.filter(thread__isnull=True, created_at__lt=cutoff),
            models.TurnUsage.objects.filter(thread__isnull=True, created_at__lt=cutoff),
            models.DailyUsage.objects.filter(day__lt=cutoff.date()),
            batch_size,
        )

    @classmethod
    def of_user(cls, user: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> Purge:
        """Everything ``user`` owns: threads, attachments (attached or not), usage rows, daily
        budget counters."""
        owned = Owner(user_id=user.pk).as_filter()
        threads = models.Thread.objects.filter(**owned)
        return cls(
            threads,
            models.Attachment.objects.filter(**owned).exclude(thread__in=threads),
            models.TurnUsage.objects.filter(**owned).exclude(thread__in=threads),
            models.DailyUsage.objects.filter(**owned),
            batch_size,
        )

    def run(self, *, dry_run: bool = False) -> Iterator[PurgeBatch]:
        yield from self._thread_pages(dry_run)
        yield from self._attachment_pages(dry_run)
        yield from self._usage_pages(dry_run)
        yield from self._daily_counter_pages(dry_run)

    def _thread_pages(self, dry_run: bool) -> Iterator[PurgeBatch]:
        for page in pages(self.threads.only("pk"), self.batch_size):
            ids = [row.pk for row in page]
            with transaction.atomic():
                rows = self.threads.filter(pk__in=ids).select_related("owner").order_by("pk")
                if not dry_run:
                    # Locked and checked again: a thread that came back to life since the
                    # page was read (a new message) is kept.
                    rows = rows.select_for_update(of=("self",))
                threads = list(rows)
                ids = [thread.pk for thread in threads]
                items = _counts_by_thread(models.ThreadItem.objects, ids)
                attachments = _counts_by_thread(models.Attachment.objects, ids)
                files = _counts_by_thread(models.Attachment.objects.exclude(file_name=""), ids)
                usage = _counts_by_thread(models.TurnUsage.objects, ids)
                if not dry_run:
                    size = self.batch_size
                    delete_in_pages(models.Attachment.objects.filter(thread_id__in=ids), size)
                    delete_in_pages(models.TurnUsage.objects.filter(thread_id__in=ids), size)
                    delete_in_pages(models.ThreadItem.objects.filter(thread_id__in=ids), size)
                    models.Thread.objects.filter(pk__in=ids).delete()
            batch = PurgeBatch(
                "threads",
                threads=[
                    ThreadSummary(
                        id=thread.pk,
                        title=thread.title,
                        owner=owner_label(thread.owner, thread.session_key),
                        updated_at=thread.updated_at,
                        items=items.get(thread.pk, 0),
                        attachments=attachments.get(thread.pk, 0),
                        files=files.get(thread.pk, 0),
                        usage=usage.get(thread.pk, 0),
                    )
                    for thread in threads
                ],
                kept=len(page) - len(threads),
            )
            for summary in batch.threads:
                self.totals.threads += 1
                self.totals.items += summary.items
                self.totals.attachments += summary.attachments
                self.totals.files += summary.files
                self.totals.usage += summary.usage
            yield batch

    def _attachment_pages(self, dry_run: bool) -> Iterator[PurgeBatch]:
        fields = ("pk", "name", "file_name", "created_at", "session_key", "owner")
        rows = self.loose_attachments.select_related("owner").only(*fields)
        for page in pages(rows, self.batch_size):
            if not dry_run:
                with transaction.atomic():
                    # The criteria apply again: an upload attached to a message since the page
                    # was read is kept.
                    kept = set(
                        self.loose_attachments.filter(pk__in=[row.pk for row in page])
                        .select_for_update()
                        .values_list("pk", flat=True)
                    )
                    models.Attachment.objects.filter(pk__in=kept).delete()
                page = [row for row in page if row.pk in kept]
            summaries = [
                AttachmentSummary(
                    id=row.pk,
                    name=row.name,
                    owner=owner_label(row.owner, row.session_key),
                    created_at=row.created_at,
                    has_file=bool(row.file_name),
                )
                for row in page
            ]
            self.totals.attachments += len(summaries)
            self.totals.files += sum(summary.has_file for summary in summaries)
            yield PurgeBatch("attachments", attachments=summaries)

    def _usage_pages(self, dry_run: bool) -> Iterator[PurgeBatch]:
        for page in pages(self.loose_usage.only("pk"), self.batch_size):
            ids = [row.pk for row in page]
            if dry_run:
                count = len(ids)
            else:
                _, per_model = self.loose_usage.filter(pk__in=ids).delete()
                count = per_model.get(models.TurnUsage._meta.label, 0)
            self.totals.usage += count
            yield PurgeBatch("usage", usage=count)

    def _daily_counter_pages(self, dry_run: bool) -> Iterator[PurgeBatch]:
        for page in pages(self.daily_counters.only("pk"), self.batch_size):
            ids = [row.pk for row in page]
            count = len(ids) if dry_run else self.daily_counters.filter(pk__in=ids).delete()[0]
            self.totals.daily_counters += count
            yield PurgeBatch("daily_counters", daily_counters=count)
