"""Reading and deleting in pages: rows ordered by a key, ``LIMIT batch_size``, the next page
after the last key seen (keyset pagination), so memory stays bounded on tables of any size
and no server-side cursor is needed (they do not survive PgBouncer's transaction pooling)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

DEFAULT_BATCH_SIZE = 500

M = TypeVar("M", bound=Model)


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
