"""The transcript of a thread page: its newest items, each with its usage and marks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from .. import models
from .transcript import HIDDEN_TYPES, body, speaker

# The newest items a thread page shows (a thread of 2,000 items shows in full).
TRANSCRIPT_LIMIT = 2000


@dataclass(frozen=True)
class Row:
    kind: str  # "item" or "usage"
    speaker: str
    created_at: datetime
    html: SafeString | str = ""
    item_type: str = ""
    hidden: bool = False
    feedback: str | None = None
    usage: models.TurnUsage | None = None


def _usage_row(usage: models.TurnUsage) -> Row:
    return Row("usage", "Usage", usage.created_at, usage=usage)


def transcript_rows(thread: models.Thread, limit: int = TRANSCRIPT_LIMIT) -> tuple[list[Row], int]:
    """The newest ``limit`` items of ``thread`` in order, with each turn's usage after the
    items written before it; and how many items are shown. Two queries."""
    items = list(
        thread.items.order_by("-created_at", "-seq").values_list(
            "type", "created_at", "data", "feedback"
        )[:limit]
    )
    items.reverse()
    since = items[0][1] if items else None
    usage: list[Any] = list(
        thread.usage.filter(**({"created_at__gte": since} if since else {})).order_by(
            "created_at", "pk"
        )
    )
    rows: list[Row] = []
    for item_type, created_at, data, feedback in items:
        while usage and usage[0].created_at < created_at:
            rows.append(_usage_row(usage.pop(0)))
        rows.append(
            Row(
                "item",
                speaker(data),
                created_at,
                body(data),
                item_type,
                item_type in HIDDEN_TYPES,
                feedback,
            )
        )
    rows.extend(_usage_row(row) for row in usage)
    return rows, len(items)


def _head(row: Row) -> SafeString:
    when = timezone.localtime(row.created_at).strftime("%Y-%m-%d %H:%M:%S")
    return format_html(
        '<div class="ck-head"><strong>{}</strong> · {}{}{}</div>',
        row.speaker,
        when,
        mark_safe(' · <span class="ck-badge">hidden from the user</span>') if row.hidden else "",
        format_html(
            ' · <span class="ck-badge ck-{}">feedback: {}</span>', row.feedback, row.feedback
        )
        if row.feedback
        else "",
    )


def _usage_html(usage: models.TurnUsage) -> SafeString:
    return format_html(
        '<div class="ck-row ck-usage">Turn usage · {}{} · {} in + {} out = <strong>{}</strong> '
        "tokens{}</div>",
        usage.provider,
        f" / {usage.model}" if usage.model else "",
        usage.input_tokens,
        usage.output_tokens,
        usage.total_tokens,
        mark_safe(' <span class="ck-badge">estimated</span>') if usage.estimated else "",
    )


def render_rows(rows: list[Row]) -> SafeString:
    """The rows as HTML, built in Python: a template loop over 2,000 items costs a second."""
    parts = []
    for row in rows:
        if row.usage is not None:
            parts.append(_usage_html(row.usage))
            continue
        parts.append(
            format_html(
                '<div class="ck-row ck-{}{}">{}<div class="ck-body">{}</div></div>',
                row.item_type,
                " ck-hidden" if row.hidden else "",
                _head(row),
                row.html,
            )
        )
    return mark_safe("".join(parts))
