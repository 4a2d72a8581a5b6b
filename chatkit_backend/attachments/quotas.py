"""Per-owner upload volume: bytes kept in storage, and uploads not yet attached to a message.

- ``ATTACHMENT_QUOTA_BYTES``: the sizes of an owner's uploaded files, attached or not, may
  not pass it (413 ``attachment_quota_exceeded``). Deleting threads or files frees room.
- ``ATTACHMENT_MAX_PENDING``: how many uploads an owner may hold that no message carries yet
  (429 ``too_many_pending_uploads``). Sending them in a message, or deleting them, frees room;
  ``chatkit_cleanup_uploads`` removes abandoned ones.

An upload is admitted inside one transaction that holds a per-owner lock while it counts
and writes, so concurrent uploads cannot all pass the same count. The lock is a PostgreSQL
advisory lock; SQLite runs one write transaction at a time already (with the
``transaction_mode: "IMMEDIATE"`` the README recommends).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Sum

from .. import models
from ..conf import conf
from ..context import Owner
from ..exceptions import RequestError


class QuotaExceeded(RequestError):
    """413: the owner's stored bytes would pass ``ATTACHMENT_QUOTA_BYTES``."""

    code = "attachment_quota_exceeded"
    status = 413


class TooManyPending(RequestError):
    """429: the owner holds ``ATTACHMENT_MAX_PENDING`` uploads no message carries yet."""

    code = "too_many_pending_uploads"
    status = 429


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} byte{'s' if size != 1 else ''}"


def _lock(owner: Owner) -> None:
    """Hold ``owner``'s upload lock until the transaction ends (PostgreSQL; see above)."""
    if connection.vendor != "postgresql":
        return
    name = f"chatkit_backend.uploads:{owner.user_id}:{owner.session_key or ''}"
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def stored_bytes(owner: Owner, *, excluding: str | None = None) -> int:
    rows = models.Attachment.objects.filter(**owner.as_filter(), uploaded_at__isnull=False)
    if excluding is not None:
        rows = rows.exclude(id=excluding)
    return int(rows.aggregate(total=Sum("size"))["total"] or 0)


def check(
    owner: Owner, *, adding: int | None = None, new: bool = False, replacing: str | None = None
) -> None:
    """Raise if ``owner`` may not keep ``adding`` more bytes (in place of the attachment
    ``replacing``'s, if any), or, for a ``new`` upload, may not hold one more pending upload."""
    if new:
        limit = conf.ATTACHMENT_MAX_PENDING
        pending = models.Attachment.objects.filter(**owner.as_filter(), thread__isnull=True)
        if limit is not None and pending.count() >= limit:
            raise TooManyPending(
                f"You have {limit} uploads not yet sent in a message. Send or remove some "
                "before uploading more."
            )
    quota = conf.ATTACHMENT_QUOTA_BYTES
    if adding is not None and quota is not None:
        used = stored_bytes(owner, excluding=replacing)
        if used + adding > quota:
            raise QuotaExceeded(
                f"This file would take your stored files past their quota of "
                f"{human_size(quota)} ({human_size(used)} used). Delete threads or "
                "files you no longer need."
            )


def admit(
    owner: Owner, *, adding: int | None = None, new: bool = False, replacing: str | None = None
) -> None:
    """Take ``owner``'s upload lock until the current transaction ends, then ``check``.

    Call it inside ``transaction.atomic()``, before the writes the check allows.
    """
    _lock(owner)
    check(owner, adding=adding, new=new, replacing=replacing)


@contextmanager
def admitting(
    owner: Owner, *, adding: int | None = None, new: bool = False, replacing: str | None = None
) -> Iterator[None]:
    """A transaction that admits an upload for ``owner`` (see ``check``), then runs the
    caller's writes while the owner's lock is held."""
    with transaction.atomic():
        admit(owner, adding=adding, new=new, replacing=replacing)
        yield
