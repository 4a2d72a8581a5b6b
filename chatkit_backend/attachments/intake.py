"""Checking uploaded bytes before they are kept: their size, their type, the owner's quota.

Bytes reach us three ways, and all of them are checked here: the direct upload, the two-phase
upload URL and a presigned upload found in the bucket. The last two fill an attachment the
client has already announced, with a declared type; :func:`accept_upload` is the one path
for both.
"""

from __future__ import annotations

from typing import IO, Any

from chatkit.store import NotFoundError
from django.db import transaction
from django.utils import timezone

from .. import models
from ..conf import conf
from ..context import Owner
from ..exceptions import RequestError
from . import quotas
from .files import get_storage, store_bytes
from .filetypes import SNIFF_BYTES, detect


class UploadRefused(RequestError):
    """413 (too large) or 415 (type not allowed)."""


def too_large() -> UploadRefused:
    limit = conf.ATTACHMENT_MAX_BYTES // 1024
    return UploadRefused(
        f"The file is larger than {limit} KiB.", code="attachment_too_large", status=413
    )


def type_refused(mime_type: str) -> UploadRefused:
    return UploadRefused(
        f"Files of type {mime_type or 'unknown'} are not accepted here.",
        code="attachment_type",
        status=415,
    )


def not_declared_type(detected: str, declared: str) -> UploadRefused:
    return UploadRefused(
        f"The file's content is {detected}, not the declared {declared}.",
        code="attachment_type",
        status=415,
    )


def check_size(size: int | None) -> None:
    if size is not None and size > conf.ATTACHMENT_MAX_BYTES:
        raise too_large()


def check_declared(size: int | None, mime_type: str) -> None:
    """Refuse early what the client says it will send, before any byte arrives.

    Used where the declared type is binding (two-phase uploads: the client already holds an
    Attachment with that type). A direct upload checks only the size up front and lets
    ``sniff`` decide the type, since browsers send ``application/octet-stream`` for any
    extension they do not know.
    """
    if size is not None and size < 0:
        raise RequestError("The declared size cannot be negative.", code="invalid_size")
    check_size(size)
    base_type = mime_type.split(";", 1)[0].strip().lower()
    if base_type not in conf.ATTACHMENT_ALLOWED_TYPES:
        raise type_refused(base_type)


def sniff(file: IO[bytes], claimed: str) -> str:
    """The file's type from its own bytes; raises 415 if it is not an allowed type."""
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    detected = detect(head, claimed)
    if detected is None or detected not in conf.ATTACHMENT_ALLOWED_TYPES:
        raise type_refused(detected or claimed)
    return detected


def accept_upload(row: models.Attachment, file: IO[bytes], size: int) -> None:
    """Check ``file``, the bytes of the announced attachment ``row``, and keep them.

    Call it in a transaction that holds ``row`` locked (``select_for_update``). In order: the
    size; the type sniffed from the bytes, which must be the declared one; the owner's quota
    (whose lock is taken last, so it is held only for the save); then the bytes are saved
    under ``storage_name`` and ``row`` records them (in the database and in place, upload
    descriptor cleared). Raises ``UploadRefused`` (413/415) or ``quotas.QuotaExceeded``,
    having kept nothing.
    """
    check_size(size)
    detected = sniff(file, row.mime_type)
    if detected != row.mime_type:
        raise not_declared_type(detected, row.mime_type)
    owner = Owner.of_row(row.owner_id, row.session_key)
    assert owner is not None  # an upload's row always names its owner
    quotas.admit(owner, adding=size, replacing=row.id)
    file_name = store_bytes(row.id, file)
    data = {**row.data, "upload_descriptor": None}
    try:
        models.Attachment.objects.filter(id=row.id).update(
            file_name=file_name, size=size, uploaded_at=timezone.now(), data=data
        )
    except BaseException:
        get_storage().delete(file_name)
        raise
    row.file_name, row.size, row.data = file_name, size, data


def receive_upload(attachment_id: str, file: IO[bytes], size: int) -> dict[str, Any]:
    """Keep the bytes sent to a two-phase upload URL (sync, one transaction); returns the
    attachment's JSON.

    Raises ``NotFoundError`` if the attachment is gone or already has its bytes (a replay),
    and what :func:`accept_upload` raises.
    """
    with transaction.atomic():
        row = (
            models.Attachment.objects.select_for_update()
            .filter(id=attachment_id, uploaded_at__isnull=True)
            .first()
        )
        if row is None:
            raise NotFoundError(attachment_id)
        accept_upload(row, file, size)
    return row.data
