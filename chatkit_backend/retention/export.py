"""Exports: everything one user owns, as JSON-ready records (one per JSON Lines line)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.utils import timezone

from .. import models
from ..attachments import display_name, get_storage
from ..context import Owner
from .pages import DEFAULT_BATCH_SIZE, pages

# Items the model sees and the widget never shows (chatkit's HiddenContextItem and
# SDKHiddenContextItem).
HIDDEN_ITEM_TYPES = frozenset({"hidden_context_item", "sdk_hidden_context"})
EXPORT_FORMAT = "chatkit_backend.export/1"


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
