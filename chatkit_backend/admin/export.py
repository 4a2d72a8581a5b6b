"""Threads exported from the admin, as Markdown (to read) or JSON (to process).

The JSON uses the records of ``chatkit_export`` (:mod:`chatkit_backend.retention.export`):
each thread's ``thread`` record with its ``items`` (hidden ones marked), ``feedback`` and
``usage``. Both formats stream a thread at a time, its items read in pages, so exporting many
long threads holds one page in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from .. import models
from ..retention.export import (
    EXPORT_FORMAT,
    HIDDEN_ITEM_TYPES,
    feedback_record,
    item_record,
    thread_record,
    usage_record,
)
from .status import describe_status
from .transcript import plain_text

EXPORT_PERMISSION = "chatkit_backend.export_thread"
FORMATS = {"markdown": ("text/markdown", "md"), "json": ("application/json", "json")}


def _items(thread: models.Thread) -> Iterator[models.ThreadItem]:
    return thread.items.order_by("created_at", "seq").iterator(chunk_size=500)


def thread_json(thread: models.Thread) -> dict[str, Any]:
    items, feedback = [], []
    for item in _items(thread):
        items.append(item_record(item))
        if item.feedback:
            feedback.append(feedback_record(item))
    usage = [usage_record(row) for row in thread.usage.order_by("created_at", "pk")]
    return {**thread_record(thread), "items": items, "feedback": feedback, "usage": usage}


def thread_markdown(thread: models.Thread) -> str:
    owner = str(thread.owner) if thread.owner_id else f"anonymous ({thread.session_key[:8]}…)"
    lines = [
        f"# {thread.title or thread.id}",
        "",
        f"- Thread: `{thread.id}`",
        f"- Owner: {owner}",
        f"- Status: {describe_status(thread.status)}",
        f"- Created: {thread.created_at.isoformat()}",
        f"- Last activity: {thread.updated_at.isoformat()}",
        f"- Tokens spent: {thread.tokens_spent}",
        "",
    ]
    for item in _items(thread):
        speaker, text = plain_text(item.data)
        marks = [item.created_at.isoformat(timespec="seconds")]
        if item.type in HIDDEN_ITEM_TYPES:
            marks.append("hidden from the user")
        if item.feedback:
            marks.append(f"feedback: {item.feedback}")
        lines += [f"**{speaker}** ({', '.join(marks)})", "", text, ""]
    return "\n".join(lines) + "\n"


def _json_chunks(threads: QuerySet[models.Thread]) -> Iterator[str]:
    head = {"format": EXPORT_FORMAT, "exported_at": timezone.now()}
    yield json.dumps(head, cls=DjangoJSONEncoder)[:-1] + ', "threads": ['
    for index, thread in enumerate(threads.iterator(chunk_size=100)):
        yield ("," if index else "") + json.dumps(thread_json(thread), cls=DjangoJSONEncoder)
    yield "]}\n"


def _markdown_chunks(threads: QuerySet[models.Thread]) -> Iterator[str]:
    for index, thread in enumerate(threads.iterator(chunk_size=100)):
        yield ("\n---\n\n" if index else "") + thread_markdown(thread)


def export_response(threads: QuerySet[models.Thread], fmt: str, name: str) -> StreamingHttpResponse:
    """A download of ``threads`` in ``fmt`` (``markdown`` or ``json``)."""
    content_type, suffix = FORMATS[fmt]
    chunks = _json_chunks(threads) if fmt == "json" else _markdown_chunks(threads)
    response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
    safe = "".join(c for c in name if c.isalnum() or c in "-_") or "threads"
    response["Content-Disposition"] = f'attachment; filename="{safe}.{suffix}"'
    return response
