"""The thread columns the admin lists instead of aggregating per page, and an item's search text.

``Thread.item_count``, ``has_positive_feedback``, ``has_negative_feedback`` and
``latest_feedback`` are recomputed from the thread's items (never incremented), inside an
UPDATE the store makes anyway where it can: a turn's release of its thread carries them, so
a turn costs no extra query, and a later write repairs any drift (a worker that died
mid-turn). Writes outside a turn (feedback, a delete, server code adding an item) refresh
them in the same transaction as the write.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, Func, Subquery

from .. import models

# Item types whose text the admin's message search finds.
SEARCHED_TYPES = frozenset({"user_message", "assistant_message"})


def search_text(data: dict[str, Any]) -> str:
    """The searchable text of an item's JSON: what a user or the assistant said."""
    if data.get("type") not in SEARCHED_TYPES:
        return ""
    parts = [
        str(part.get("text") or "") for part in data.get("content") or [] if isinstance(part, dict)
    ]
    if data.get("quoted_text"):
        parts.append(str(data["quoted_text"]))
    return "\n".join(part for part in parts if part)


def thread_counters(thread_id: str) -> dict[str, Any]:
    """UPDATE values recomputing a thread's denormalised item and feedback columns."""
    items = models.ThreadItem.objects.filter(thread_id=thread_id).order_by()
    rated = items.filter(feedback__isnull=False)
    return {
        # A bare COUNT (no GROUP BY): one row even for a thread without items.
        "item_count": Subquery(items.annotate(n=Func(F("seq"), function="COUNT")).values("n")),
        "has_positive_feedback": Exists(rated.filter(feedback="positive")),
        "has_negative_feedback": Exists(rated.filter(feedback="negative")),
        "latest_feedback": Subquery(rated.order_by("-feedback_at", "-seq").values("feedback")[:1]),
    }


def refresh_counters(thread_id: str) -> None:
    """Recompute ``thread_id``'s denormalised columns now (one UPDATE)."""
    models.Thread.objects.filter(id=thread_id).update(**thread_counters(thread_id))


def add_tokens(thread_id: str | None, rows: list[dict[str, Any]]) -> None:
    """Add what ``rows`` (``TurnUsage`` field values) spent to the thread's columns."""
    if thread_id and rows:
        models.Thread.objects.filter(id=thread_id).update(**usage_values(rows))


def usage_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """UPDATE values adding ``rows``' tokens to a thread, and naming its latest model."""
    if not rows:
        return {}
    spent = sum(int(row.get("total_tokens") or 0) for row in rows)
    return {
        "tokens_spent": F("tokens_spent") + spent,
        "provider": str(rows[-1].get("provider") or "")[:32],
        "model": str(rows[-1].get("model") or "")[:128],
    }
