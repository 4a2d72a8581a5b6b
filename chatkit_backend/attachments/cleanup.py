"""What ``chatkit_cleanup_uploads`` removes: uploads nobody attached, and stray bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import models
from ..conf import conf
from .files import get_storage, incoming_name


def unattached_before(cutoff: datetime) -> Any:
    """Uploads never attached to a message, created before ``cutoff``."""
    return models.Attachment.objects.filter(thread__isnull=True, created_at__lt=cutoff)


def stray_incoming_before(cutoff: datetime) -> list[str]:
    """Storage names of presigned uploads nothing waits for, last written before ``cutoff``.

    A presigned URL keeps working until it expires, so a PUT can land after its attachment
    was checked or deleted; nothing serves those bytes, and this finds them.
    """
    if not conf.ATTACHMENT_PRESIGNED_UPLOADS:
        return []
    storage = get_storage()
    folder = incoming_name("").rstrip("/")
    try:
        _, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    waiting = set(
        models.Attachment.objects.filter(id__in=files, uploaded_at__isnull=True).values_list(
            "id", flat=True
        )
    )
    return [
        incoming_name(file)
        for file in files
        if file not in waiting and storage.get_modified_time(incoming_name(file)) < cutoff
    ]
