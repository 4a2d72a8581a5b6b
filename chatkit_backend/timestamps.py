"""The SDK's naive ``datetime.now()`` values: made aware for the database, UTC on the wire.

The SDK stamps new threads and items with naive local time (the process's, which Django sets to
``TIME_ZONE``), while rows read from the database carry aware UTC values.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chatkit.types import Page, Thread, ThreadItemBase, ThreadMetadata
from django.conf import settings
from django.utils import timezone
from pydantic import BaseModel


def aware(value: datetime) -> datetime:
    """``value`` for an indexed column: aware, in ``TIME_ZONE`` if it was naive."""
    if settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, timezone.get_default_timezone())
    return value


def utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive value is taken to be in ``TIME_ZONE``)."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value.astimezone(UTC)


def with_utc_timestamps(obj: BaseModel) -> BaseModel:
    """Set every ``created_at`` that ``obj`` carries to UTC, in place, and return ``obj``.

    Only threads and items carry timestamps (``ThreadMetadata``, ``ThreadItemBase``): alone,
    in a ``Page``, in a ``Thread``'s items, or in an event's ``thread`` / ``item``.
    """
    match obj:
        case ThreadMetadata() | ThreadItemBase():
            obj.created_at = utc(obj.created_at)
            if isinstance(obj, Thread):
                for item in obj.items.data:
                    with_utc_timestamps(item)
        case Page():
            for element in obj.data:
                if isinstance(element, BaseModel):
                    with_utc_timestamps(element)
        case _:
            for name in ("thread", "item"):
                inner = getattr(obj, name, None)
                if isinstance(inner, ThreadMetadata | ThreadItemBase):
                    with_utc_timestamps(inner)
    return obj
