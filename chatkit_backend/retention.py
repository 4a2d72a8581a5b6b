"""Retention and data rights: purge inactive threads or one user's data; export a user's data.

Everything here reads the database in pages: rows ordered by a key, ``LIMIT batch_size``, the
next page after the last key seen (keyset pagination), so memory stays bounded on tables of any
size and no server-side cursor is needed (they do not survive PgBouncer's transaction pooling).
Each page of a purge is its own transaction: a purge stopped half-way has deleted whole
threads only, and running it again finishes the job. Attachment files go through the
``post_delete`` receiver that deletes them when a user deletes a thread, once each page commits.

The management commands ``chatkit_purge`` and ``chatkit_export`` are thin shells around
:class:`Purge` and :class:`Export`; other callers (an admin action, a scheduled job) can use
them the same way.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Model, Q, QuerySet
from django.utils import timezone

from . import models
from .attachments import display_name, get_storage
from .context import Owner

DEFAULT_BATCH_SIZE = 500
# Items the model sees and the widget never shows (chatkit's HiddenContextItem and
# SDKHiddenContextItem).
HIDDEN_ITEM_TYPES = frozenset({"hidden_context_item", "sdk_hidden_context"})
EXPORT_FORMAT = "chatkit_backend.export/1"

M = TypeVar("M", bound=Model)


# -- keyset pages --------------------------------------------------------------------------


def _after(keys: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows that sort after ``values`` on ``keys`` (a lexicographic comparison)."""
    condition = Q()
    for position, key in enumerate(keys):
        equal = {k: v for k, v in zip(keys[:position], values[:position], strict=True)}
        condition |= Q(**equal, **{f"{key}__gt": values[position]})
    return condition


def pages(queryset: QuerySet[M], size: int, keys: Sequence[str] = ("pk",)) -> Iterator[list[M]]:
    """``queryset``'s rows ordered by ``keys``, ``size`` at a time: one ``LIMIT size`` query a page.

    ``keys`` must identify a row (end with a unique field). The next page starts after the last
    row of the previous one, so rows deleted meanwhile do not shift the pages.
    """
    if size < 1:
        raise ValueError("The batch size must be at least 1.")
    ordered = queryset.order_by(*keys)
    last: tuple[Any, ...] | None = None
    while True:
        page = ordered if last is None else ordered.filter(_after(keys, last))
        rows = list(page[:size])
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = tuple(getattr(rows[-1], key) for key in keys)


def delete_in_pages(queryset: QuerySet[Any], size: int) -> int:
    """Delete ``queryset``'s rows ``size`` at a time (in the current transaction, if any).

    Django's ``delete()`` loads every row into memory when the model has delete signals (as
    attachments do); pages keep that bounded. Returns how many rows were deleted.
    """
    deleted = 0
    model = queryset.model
    while True:
        keys = list(queryset.order_by("pk").values_list("pk", flat=True)[:size])
        if not keys:
            return deleted
        _, per_model = model._default_manager.filter(pk__in=keys).delete()
        deleted += per_model.get(model._meta.label, 0)


def _counts_by_thread(queryset: QuerySet[Any], thread_ids: list[str]) -> dict[str, int]:
    rows = (
        queryset.filter(thread_id__in=thread_ids)
        .order_by()
        .values_list("thread_id")
        .annotate(count=Count("pk"))
    )
    return dict(rows)  # type: ignore[arg-type]


def plural(count: int, noun: str) -> str:
    """``"1 thread"``, ``"2 threads"``: for progress lines."""
    return f"{count} {noun if count == 1 else noun + 's'}"


def owner_label(owner: Any, session_key: str) -> str:
    """Who owns a row, fit to print (a session key is a credential, so it is never shown)."""
    if owner is not None:
        return str(owner.get_username())
    return "anonymous session" if session_key else "nobody"


def printable(text: str | None, limit: int = 60) -> str:
    """User text (a thread title, a file name) safe to print on a terminal: no control
    characters (an escape sequence in a title must not drive the operator's terminal)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in (text or ""))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def find_user(username: str) -> Any:
    """The user with this username (``USERNAME_FIELD``); raises ``LookupError`` if none."""
    user_model = get_user_model()
    try:
        return user_model._default_manager.get_by_natural_key(username)
    except user_model.DoesNotExist:
        raise LookupError(f"No user with {user_model.USERNAME_FIELD} {username!r}.") from None


# -- purge ---------------------------------------------------------------------------------


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


@dataclass
class PurgeBatch:
    """One page of a purge, as it was deleted (or, in a dry run, as it would be)."""

    kind: Literal["threads", "attachments", "usage"]
    threads: list[ThreadSummary] = field(default_factory=list)
    attachments: list[AttachmentSummary] = field(default_factory=list)
    usage: int = 0
    kept: int = 0  # threads active again by the time their page was deleted


class Purge:
    """What a purge deletes: whole threads (items, attachments and their files, usage), then
    attachments and usage rows outside those threads.

    Build one with :meth:`inactive_since` or :meth:`of_user`, then iterate :meth:`run`; each
    step yields a :class:`PurgeBatch` once its page is committed, and ``totals`` adds up.
    """

    def __init__(
        self,
        threads: QuerySet[models.Thread],
        loose_attachments: QuerySet[models.Attachment],
        loose_usage: QuerySet[models.TurnUsage],
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        self.threads = threads
        self.loose_attachments = loose_attachments
        self.loose_usage = loose_usage
        self.batch_size = batch_size
        self.totals = PurgeTotals()

    @classmethod
    def inactive_since(cls, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> Purge:
        """Threads with no activity since ``cutoff`` (``Thread.updated_at``), with everything
        in them; also uploads never attached and usage rows of threads deleted earlier, when
        they are older than ``cutoff``."""
        return cls(
            models.Thread.objects.filter(updated_at__lt=cutoff),
            models.Attachment.objects.filter(thread__isnull=True, created_at__lt=cutoff),
            models.TurnUsage.objects.filter(thread__isnull=True, created_at__lt=cutoff),
            batch_size,
        )

    @classmethod
    def of_user(cls, user: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> Purge:
        """Everything ``user`` owns: threads, attachments (attached or not), usage rows."""
        owned = Owner(user_id=user.pk).as_filter()
        threads = models.Thread.objects.filter(**owned)
        return cls(
            threads,
            models.Attachment.objects.filter(**owned).exclude(thread__in=threads),
            models.TurnUsage.objects.filter(**owned).exclude(thread__in=threads),
            batch_size,
        )

    def run(self, *, dry_run: bool = False) -> Iterator[PurgeBatch]:
        yield from self._thread_pages(dry_run)
        yield from self._attachment_pages(dry_run)
        yield from self._usage_pages(dry_run)

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


# -- export --------------------------------------------------------------------------------


@dataclass
class Export:
    """Everything one user owns, as JSON-ready records (one per JSON Lines line).

    Records, each with a ``type``: ``export`` (first: format, user, time), then per thread a
    ``thread`` followed by its ``item`` records in order (hidden items marked ``hidden``), each
    rated item followed by its ``feedback``; then ``usage`` records, ``attachment`` records
    (the manifest: every attachment the user owns, attached or not), and ``end`` with the counts
    (a file without it was cut short).

    ``copy_file(row)`` is called for each attachment with stored bytes; the fields it returns
    (where it put the file, its digest) go into the attachment's record.
    """

    user: Any
    batch_size: int = DEFAULT_BATCH_SIZE
    copy_file: Callable[[models.Attachment], dict[str, Any]] | None = None
    on_page: Callable[[Counter[str]], None] | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def records(self) -> Iterator[dict[str, Any]]:
        yield {
            "type": "export",
            "format": EXPORT_FORMAT,
            "exported_at": timezone.now(),
            "user": {"id": self.user.pk, "username": self.user.get_username()},
        }
        yield from self._threads_and_items()
        yield from self._usage()
        yield from self._attachments()
        yield {"type": "end", "counts": dict(self.counts)}

    def _count(self, record: dict[str, Any]) -> dict[str, Any]:
        self.counts[record["type"]] += 1
        return record

    def _page_done(self) -> None:
        if self.on_page is not None:
            self.on_page(self.counts)

    def _owned(self) -> dict[str, Any]:
        return Owner(user_id=self.user.pk).as_filter()

    def _threads_and_items(self) -> Iterator[dict[str, Any]]:
        for threads in pages(models.Thread.objects.filter(**self._owned()), self.batch_size):
            # The items of this page's threads, in the transcript's order thread by thread,
            # themselves a page at a time; merged with the threads (both ordered by thread id).
            items = (
                item
                for page in pages(
                    models.ThreadItem.objects.filter(thread_id__in=[t.pk for t in threads]),
                    self.batch_size,
                    keys=("thread_id", "created_at", "seq"),
                )
                for item in page
            )
            pending = next(items, None)
            for thread in threads:
                yield self._count(thread_record(thread))
                while pending is not None and pending.thread_id == thread.pk:
                    yield self._count(item_record(pending))
                    if pending.feedback:
                        yield self._count(feedback_record(pending))
                    pending = next(items, None)
            if pending is not None:  # never drop an item silently
                raise RuntimeError(f"Item {pending.item_id} came out of its thread's order.")
            self._page_done()

    def _usage(self) -> Iterator[dict[str, Any]]:
        for page in pages(models.TurnUsage.objects.filter(**self._owned()), self.batch_size):
            for row in page:
                yield self._count(usage_record(row))
            self._page_done()

    def _attachments(self) -> Iterator[dict[str, Any]]:
        owned = Q(**self._owned()) | Q(**Owner(user_id=self.user.pk).as_filter("thread__"))
        for page in pages(models.Attachment.objects.filter(owned), self.batch_size):
            for row in page:
                record = attachment_record(row)
                if row.file_name and self.copy_file is not None:
                    record.update(self.copy_file(row))
                yield self._count(record)
            self._page_done()


def thread_record(thread: models.Thread) -> dict[str, Any]:
    return {
        "type": "thread",
        "id": thread.pk,
        "title": thread.title,
        "status": thread.status,
        "metadata": thread.metadata,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
    }


def item_record(item: models.ThreadItem) -> dict[str, Any]:
    return {
        "type": "item",
        "thread_id": item.thread_id,
        "id": item.item_id,
        "item_type": item.type,
        "created_at": item.created_at,
        "hidden": item.type in HIDDEN_ITEM_TYPES,
        "feedback": item.feedback,
        "data": item.data,
    }


def feedback_record(item: models.ThreadItem) -> dict[str, Any]:
    return {
        "type": "feedback",
        "thread_id": item.thread_id,
        "item_id": item.item_id,
        "kind": item.feedback,
        "at": item.feedback_at,
    }


def usage_record(row: models.TurnUsage) -> dict[str, Any]:
    return {
        "type": "usage",
        "thread_id": row.thread_id,
        "provider": row.provider,
        "model": row.model,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_tokens": row.total_tokens,
        "created_at": row.created_at,
    }


def attachment_record(row: models.Attachment) -> dict[str, Any]:
    return {
        "type": "attachment",
        "id": row.pk,
        "thread_id": row.thread_id,
        "name": row.name,
        "mime_type": row.mime_type,
        "size": row.size,
        "created_at": row.created_at,
        "uploaded_at": row.uploaded_at,
        "stored": bool(row.file_name),
        "file": None,
    }


class FileCopier:
    """``Export.copy_file`` that copies each attachment's bytes under ``directory``.

    A file goes to ``<directory>/<attachment id>/<its display name>``: the id keeps names
    apart, and the name is the cleaned one the widget shows (never a path). Files that cannot
    be read are reported in ``failures`` and marked ``"missing": true`` in the manifest.
    """

    CHUNK = 64 * 1024

    def __init__(self, directory: Path):
        self.directory = directory
        self.failures: list[tuple[str, str]] = []

    def __call__(self, row: models.Attachment) -> dict[str, Any]:
        relative = Path(row.pk) / display_name(row.name)
        target = self.directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            with get_storage().open(row.file_name, "rb") as source, target.open("wb") as out:
                for chunk in iter(lambda: source.read(self.CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except Exception as error:  # any storage's "cannot read": report it, go on
            target.unlink(missing_ok=True)
            self.failures.append((row.pk, f"{type(error).__name__}: {error}"))
            return {"missing": True}
        return {"file": relative.as_posix(), "sha256": digest.hexdigest()}
