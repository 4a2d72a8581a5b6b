"""Rows as the SDK's objects, and the query pieces every part of the store shares."""

from __future__ import annotations

import copy
from datetime import datetime
from functools import partial
from typing import Any, Literal

from chatkit.types import ThreadItem, ThreadMetadata
from django.db import transaction
from django.db.models import Q
from pydantic import TypeAdapter

from .. import models
from ..attachments import refresh_generated_image, refresh_preview
from ..context import RequestContext
from ..signals import thread_changed

ITEM_ADAPTER: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)

Order = Literal["asc", "desc"]


def fields_of(thread: ThreadMetadata) -> dict[str, Any]:
    """A thread's metadata fields (a full ``Thread`` carries items too)."""
    return {name: getattr(thread, name) for name in ThreadMetadata.model_fields}


def to_metadata(row: models.Thread) -> ThreadMetadata:
    return ThreadMetadata(
        id=row.id,
        title=row.title,
        created_at=row.created_at,
        status=row.status or {"type": "active"},
        allowed_image_domains=row.allowed_image_domains,
        metadata=row.metadata or {},
    )


def saved_values(thread: ThreadMetadata) -> dict[str, Any]:
    """The thread columns a save writes, as stored (``thread`` may be a full ``Thread``)."""
    return {
        "title": thread.title,
        "status": thread.status.model_dump(mode="json"),
        # A copy: server code may change the thread's dict in place after the save.
        "metadata": copy.deepcopy(thread.metadata),
        "allowed_image_domains": thread.allowed_image_domains,
    }


def holds(name: str, value: Any) -> dict[str, Any]:
    """A lookup matching rows whose column ``name`` still holds ``value``."""
    return {f"{name}__isnull": True} if value is None else {name: value}


def item_from(data: dict[str, Any], context: RequestContext) -> ThreadItem:
    """A stored item's JSON as the SDK's item."""
    if data.get("attachments"):
        # Image previews are signed URLs that expire: sign them afresh on every read.
        data = {**data, "attachments": [refresh_preview(a, context) for a in data["attachments"]]}
    # A generated image's URL is signed too (see attachments.generated).
    return ITEM_ADAPTER.validate_python(refresh_generated_image(data, context))


def announce(
    thread_id: str, context: RequestContext, change: str, fields: list[str] | None = None
) -> None:
    """Send ``thread_changed`` once the current transaction commits (``fields``: the thread
    fields a ``"thread"`` change wrote, None for a new thread)."""
    transaction.on_commit(
        partial(
            thread_changed.send,
            sender=models.Thread,
            thread_id=thread_id,
            context=context,
            change=change,
            fields=fields,
        )
    )


def keyset(rows: Any, cursor: tuple[datetime, Any] | None, order: Order, tiebreak: str) -> Any:
    """Order ``rows`` by (created_at, tiebreak) and start strictly after ``cursor``."""
    if cursor is not None:
        created_at, key = cursor
        op = "gt" if order == "asc" else "lt"
        # (created_at, key) > cursor, written so the first condition is a plain range on the
        # index: the database seeks to the cursor instead of scanning the thread.
        rows = rows.filter(**{f"created_at__{op}e": created_at}).filter(
            Q(**{f"created_at__{op}": created_at}) | Q(**{f"{tiebreak}__{op}": key})
        )
    prefix = "" if order == "asc" else "-"
    return rows.order_by(f"{prefix}created_at", f"{prefix}{tiebreak}")


def page_of(records: list[Any], limit: int, key: Any) -> tuple[list[Any], bool, str | None]:
    """The first ``limit`` of ``records`` (one more was read), whether there are more, and
    the cursor of the next page."""
    has_more = len(records) > limit
    records = records[:limit]
    return records, has_more, (key(records[-1]) if has_more and records else None)
