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
    """``obj`` with every ``created_at`` it carries in UTC.

    Only threads and items carry timestamps (``ThreadMetadata``, ``ThreadItemBase``): alone,
    in a ``Page``, in a ``Thread``'s items, or in an event's ``thread`` / ``item``. Those are
    copied (shallowly), never changed in place: the SDK keeps computing with the objects it
    streams (a workflow's duration is ``datetime.now()`` minus its naive ``created_at``).
    """
    match obj:
        case Thread():
            items = with_utc_timestamps(obj.items)
            return obj.model_copy(update={"created_at": utc(obj.created_at), "items": items})
        case ThreadMetadata() | ThreadItemBase():
            return obj.model_copy(update={"created_at": utc(obj.created_at)})
        case Page():
            data = [
                with_utc_timestamps(element) if isinstance(element, BaseModel) else element
                for element in obj.data
            ]
            return obj.model_copy(update={"data": data})
    for name in ("thread", "item"):
        inner = getattr(obj, name, None)
        if isinstance(inner, ThreadMetadata | ThreadItemBase):
            return obj.model_copy(update={name: with_utc_timestamps(inner)})
    return obj
