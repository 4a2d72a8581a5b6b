"""A built-in entity source: the caller's own threads, by title.

Set ``ENTITY_SEARCH = "chatkit_backend.entities.search_threads"`` (and ``ENTITY_PREVIEW =
"chatkit_backend.entities.preview_thread"``) to let users @-mention their earlier
conversations. It doubles as the example for a source of your own: a function of the query
(or the entity) and the request context, scoped by the context's owner.
"""

from __future__ import annotations

from typing import Any

from chatkit.widgets import BasicRoot

from .. import models
from ..conf import conf
from ..context import RequestContext
from .schema import Entity

RESULTS = 20


def readable_threads(context: RequestContext) -> Any:
    """The threads the request may read, as the ``ACCESS_POLICY`` decides."""
    return conf.imported("ACCESS_POLICY")().threads(context, write=False)


def search_threads(query: str, context: RequestContext) -> list[Entity]:
    """The caller's threads whose title holds ``query``, most recently active first."""
    rows = (
        readable_threads(context)
        .filter(title__icontains=query.strip())
        .order_by("-updated_at")
        .values("id", "title")[:RESULTS]
    )
    return [
        Entity(
            id=row["id"],
            title=row["title"] or "Untitled thread",
            group="Threads",
            icon="notebook",
            interactive=True,
            data={"kind": "thread"},
        )
        for row in rows
    ]


def preview_thread(entity: Entity, context: RequestContext) -> BasicRoot | None:
    """A card for a thread the caller may read: its title and latest answer; else nothing."""
    thread = readable_threads(context).filter(id=entity.id).values("title", "updated_at").first()
    if thread is None:
        return None
    latest = (
        models.ThreadItem.objects.filter(thread_id=entity.id, type="assistant_message")
        .order_by("-created_at", "-seq")
        .values_list("data", flat=True)
        .first()
    )
    text = " ".join(part.get("text", "") for part in (latest or {}).get("content", []))
    children: list[dict[str, Any]] = [
        {"type": "Title", "value": thread["title"] or "Untitled thread", "size": "sm"},
        {"type": "Caption", "value": f"Last active {thread['updated_at']:%Y-%m-%d %H:%M}"},
    ]
    if text.strip():
        children.append({"type": "Text", "value": text.strip()[:300], "size": "sm"})
    return BasicRoot.model_validate({"type": "Basic", "children": children})
