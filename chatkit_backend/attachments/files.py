"""Attachment bytes on Django's storage API: where they live, and that they go with their row.

Files are stored under names we generate (``chatkit/attachments/<id>``), never the client's
filename; the client's name is kept, cleaned, for display only. Metadata rows live in
:class:`~chatkit_backend.models.Attachment`, written through ``DjangoStore``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import IO, Any

from django.core.files.storage import Storage, default_storage, storages
from django.db import transaction

from .. import models
from ..conf import conf


def get_storage() -> Storage:
    """The storage attachments live in: ``STORAGES[ATTACHMENT_STORAGE]`` or the default."""
    alias = conf.ATTACHMENT_STORAGE
    return storages[alias] if alias else default_storage


def storage_name(attachment_id: str) -> str:
    return f"chatkit/attachments/{attachment_id}"


def incoming_name(attachment_id: str) -> str:
    """Where a presigned upload lands: checked there, then moved to ``storage_name``."""
    return f"chatkit/incoming/{attachment_id}"


def display_name(name: str) -> str:
    """A filename fit to show: no directories, no control characters, at most 255 chars."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:255] or "file"


def store_bytes(attachment_id: str, file: IO[bytes]) -> str:
    """Save the bytes under our name; returns the name the storage chose."""
    return get_storage().save(storage_name(attachment_id), file)


def read_bytes(attachment_id: str, limit: int) -> bytes | None:
    """Up to ``limit`` + 1 bytes of an uploaded attachment (``None`` if it has none)."""
    file_name = (
        models.Attachment.objects.filter(id=attachment_id, uploaded_at__isnull=False)
        .values_list("file_name", flat=True)
        .first()
    )
    if not file_name:
        return None
    with get_storage().open(file_name, "rb") as handle:
        return handle.read(limit + 1)


def delete_file_with_row(sender: Any, instance: models.Attachment, **kwargs: Any) -> None:
    """``post_delete`` receiver: an attachment's bytes go when its row goes (thread, user...)."""
    names = {instance.file_name} if instance.file_name else set()
    if conf.ATTACHMENT_PRESIGNED_UPLOADS:
        names.add(incoming_name(instance.id))  # whatever a replayed presigned PUT left there

    def delete_files() -> None:
        for name in names:
            get_storage().delete(name)

    if names:
        transaction.on_commit(delete_files)
