"""The thread list's search: titles, owners, ids, and what was said in the thread.

Message text is ``ThreadItem.text``, written with each item. On PostgreSQL it is searched by
full-text search over the GIN index migration 0006 made (``to_tsvector('simple', text)``,
queried with ``websearch_to_tsquery``: words, "a phrase", -excluded, or); elsewhere by a
case-insensitive containment of the whole query.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL

from .. import models

# Must match the index expression of migration 0006 exactly, or PostgreSQL scans.
FULL_TEXT = (
    "to_tsvector('simple'::regconfig, text) @@ websearch_to_tsquery('simple'::regconfig, %s)"
)


def items_saying(query: str, using: str = "default") -> QuerySet[models.ThreadItem]:
    """Items whose message text matches ``query``."""
    items = models.ThreadItem.objects.using(using)
    if connections[using].vendor == "postgresql":
        matches = ExpressionWrapper(RawSQL(FULL_TEXT, [query]), output_field=BooleanField())
        return items.filter(matches)
    return items.filter(text__icontains=query)


def search_threads(queryset: QuerySet[Any], query: str) -> QuerySet[Any]:
    """Threads whose title, owner (username, email) or id matches, or where ``query`` was said."""
    query = query.strip()
    if not query:
        return queryset
    user_model = get_user_model()
    said = items_saying(query, queryset.db).values("thread_id")
    matches = (
        Q(title__icontains=query)
        | Q(**{f"owner__{user_model.USERNAME_FIELD}__icontains": query})
        | Q(id=query)
        | Q(id__in=said)
    )
    if "email" in {field.name for field in user_model._meta.get_fields()}:
        matches |= Q(owner__email__icontains=query)
    return queryset.filter(matches)
