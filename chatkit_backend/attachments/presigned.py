"""Presigned uploads: the browser PUTs the bytes straight into the bucket (S3 through
django-storages, ``ATTACHMENT_PRESIGNED_UPLOADS``); they are checked on first use."""

from __future__ import annotations

import os

from django.core.files.storage import Storage
from django.db import transaction

from .. import models
from ..conf import conf
from . import envelopes, quotas
from .files import get_storage
from .intake import UploadRefused, accept_upload, too_large


def presigned_put_url(name: str, mime_type: str) -> str | None:
    """A URL the browser can PUT the bytes to, straight into the bucket, if the storage can
    presign (django-storages' S3 storage); ``None`` otherwise."""
    storage = get_storage()
    connection = getattr(storage, "connection", None)
    bucket = getattr(storage, "bucket_name", None)
    if connection is None or not bucket:
        return None
    normalize = getattr(storage, "_normalize_name", None)  # applies the storage's location
    key = normalize(name) if normalize else name
    return connection.meta.client.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": mime_type},
        ExpiresIn=conf.ATTACHMENT_UPLOAD_URL_TTL,
        HttpMethod="PUT",
    )


def finish_presigned_upload(attachment_id: str) -> bool:
    """If the browser has put the bytes of a presigned upload, check and keep them.

    True when the attachment now has its bytes. A presigned PUT works until it expires, not
    once, so the bytes are read once, checked (:func:`~.intake.accept_upload`), and copied from
    ``incoming_name`` to ``storage_name``: what is served is what was checked, whatever a
    replay puts later. A file that is refused is deleted.
    """
    storage = get_storage()
    with transaction.atomic():
        row = models.Attachment.objects.select_for_update().filter(id=attachment_id).first()
        if row is None:
            return False
        if row.uploaded_at is not None:
            return True
        incoming = row.file_name
        if not incoming or not storage.exists(incoming):
            return False
        try:
            accept_incoming(row, storage)
        except (UploadRefused, quotas.QuotaExceeded):
            storage.delete(incoming)
            raise
    if row.file_name != incoming:
        storage.delete(incoming)
    return True


def accept_incoming(row: models.Attachment, storage: Storage) -> None:
    """:func:`~.intake.accept_upload` for the bytes at ``row.file_name`` in the bucket.

    A multipart envelope (a client that sent the SDK's documented form body to the PUT) is
    unwrapped to its ``file`` part first.
    """
    stored_size = storage.size(row.file_name)
    if stored_size > conf.ATTACHMENT_MAX_BYTES + envelopes.MULTIPART_SLACK:
        raise too_large()  # before downloading it
    with storage.open(row.file_name, "rb") as handle:
        part = envelopes.unwrap(handle, stored_size)
        file = handle if part is None else part
        try:
            file.seek(0, os.SEEK_END)
            size = file.tell()  # of the copy read, which may differ from the object now
            file.seek(0)
            accept_upload(row, file, size)
        finally:
            if part is not None:
                part.close()
