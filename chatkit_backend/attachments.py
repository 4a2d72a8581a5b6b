"""Attachment bytes on Django's storage API, and the ``AttachmentStore`` that manages them.

Files are stored under names we generate (``chatkit/attachments/<id>``), never the client's
filename; the client's name is kept, cleaned, for display only. Metadata rows live in
:class:`~chatkit_backend.models.Attachment`, written through ``DjangoStore``.
"""

from __future__ import annotations

import base64
import os
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from django.core.files.storage import Storage, default_storage, storages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pydantic import TypeAdapter

from . import envelopes, models, quotas, signing
from .conf import conf
from .context import RequestContext
from .exceptions import RequestError
from .filetypes import IMAGE_TYPES, SNIFF_BYTES, detect, is_text
from .ids import generate_id

ATTACHMENT_ADAPTER: TypeAdapter[Attachment] = TypeAdapter(Attachment)


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


class UploadRefused(RequestError):
    """413 (too large) or 415 (type not allowed)."""


def too_large() -> UploadRefused:
    limit = int(conf.ATTACHMENT_MAX_BYTES) // 1024
    return UploadRefused(
        f"The file is larger than {limit} KiB.", code="attachment_too_large", status=413
    )


def type_refused(mime_type: str) -> UploadRefused:
    return UploadRefused(
        f"Files of type {mime_type or 'unknown'} are not accepted here.",
        code="attachment_type",
        status=415,
    )


def check_size(size: int | None) -> None:
    if size is not None and size > int(conf.ATTACHMENT_MAX_BYTES):
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


def absolute_url(path: str, context: RequestContext) -> str:
    if context.request is not None:
        return context.request.build_absolute_uri(path)
    return f"http://localhost{path}"


def download_url(attachment_id: str, context: RequestContext) -> str:
    """A signed URL that serves the file without credentials until ``ATTACHMENT_URL_TTL``."""
    token = signing.sign(attachment_id, "download")
    path = reverse("chatkit_backend:attachment", args=[attachment_id])
    return absolute_url(f"{path}?token={token}", context)


def upload_url(attachment_id: str, context: RequestContext) -> str:
    token = signing.sign(attachment_id, "upload")
    path = reverse("chatkit_backend:upload_to", args=[attachment_id])
    return absolute_url(f"{path}?token={token}", context)


def build_attachment(
    attachment_id: str,
    name: str,
    mime_type: str,
    context: RequestContext,
    descriptor: AttachmentUploadDescriptor | None = None,
) -> Attachment:
    common: dict[str, Any] = {
        "id": attachment_id,
        "name": name,
        "mime_type": mime_type,
        "upload_descriptor": descriptor,
    }
    if mime_type in IMAGE_TYPES:
        return ImageAttachment(preview_url=download_url(attachment_id, context), **common)
    return FileAttachment(**common)


def serves_preview(data: dict[str, Any]) -> bool:
    """Whether an image attachment's ``preview_url`` is our signed download URL for it.

    Only such previews are ours to sign: an image that server code saved with a preview of
    its own (a CDN, a generated image's URL) keeps what it was saved with.
    """
    preview = data.get("preview_url")
    if data.get("type") != "image" or not data.get("id") or not isinstance(preview, str):
        return False
    path = reverse("chatkit_backend:attachment", args=[data["id"]])
    return urlsplit(preview).path == path


def refresh_preview(data: dict[str, Any], context: RequestContext) -> dict[str, Any]:
    """Give an image attachment's JSON a fresh signed ``preview_url`` if we serve its bytes
    (signed URLs expire); any other attachment is returned as it was saved."""
    if serves_preview(data):
        return {**data, "preview_url": download_url(data["id"], context)}
    return data


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
        ExpiresIn=int(conf.ATTACHMENT_UPLOAD_URL_TTL),
        HttpMethod="PUT",
    )


def keep_checked(
    attachment_id: str,
    file: IO[bytes],
    mime_type: str,
    *,
    admit: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Check ``file`` (size, type from its bytes) and save it under ``storage_name``.

    ``admit(size)`` runs before the save, to refuse bytes the owner's quota cannot hold.
    """
    detected = sniff(file, mime_type)
    if detected != mime_type:
        raise type_refused(detected)
    file.seek(0, os.SEEK_END)
    size = file.tell()  # of the copy read, which may differ from the object now
    if size > int(conf.ATTACHMENT_MAX_BYTES):
        raise too_large()
    if admit is not None:
        admit(size)
    file.seek(0)
    return get_storage().save(storage_name(attachment_id), file), size


def finish_presigned_upload(attachment_id: str) -> bool:
    """If the browser has put the bytes of a presigned upload, check and keep them.

    True when the attachment now has its bytes. A presigned PUT works until it expires, not
    once, so the bytes are read once, checked, and copied from ``incoming_name`` to
    ``storage_name``: what is served is what was checked, whatever a replay puts later. A
    multipart envelope (a client that sent the SDK's documented form body to the PUT) is
    unwrapped to its ``file`` part first. A file that is too large or not its declared type is
    deleted and refused (413/415).
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
            stored_size = storage.size(incoming)
            if stored_size > int(conf.ATTACHMENT_MAX_BYTES) + envelopes.MULTIPART_SLACK:
                raise too_large()  # before downloading it
            with storage.open(incoming, "rb") as handle:
                part = envelopes.unwrap(handle, stored_size)
                try:
                    file_name, size = keep_checked(
                        attachment_id,
                        handle if part is None else part,
                        row.mime_type,
                        admit=lambda size: quotas.admit(
                            quotas.owner_of(row), adding=size, replacing=row.id
                        ),
                    )
                finally:
                    if part is not None:
                        part.close()
        except (UploadRefused, quotas.QuotaExceeded):
            storage.delete(incoming)
            raise
        moved = file_name != incoming
        models.Attachment.objects.filter(id=attachment_id).update(
            file_name=file_name,
            size=size,
            uploaded_at=timezone.now(),
            data={**row.data, "upload_descriptor": None},
        )
    if moved:
        storage.delete(incoming)
    return True


def _admit_two_phase(
    attachment: Attachment, context: RequestContext, declared: int, file_name: str
) -> None:
    from .store import DjangoStore

    # The declared size is the client's word: the bytes are counted again when they arrive.
    with quotas.admitting(context.owner, adding=declared, new=True):
        DjangoStore()._save_attachment(attachment, context, file_name=file_name)


class DjangoAttachmentStore(AttachmentStore[RequestContext]):
    """Two-phase uploads and deletion of attachment bytes in Django storage."""

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return generate_id("attachment")

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        check_declared(input.size, input.mime_type)
        mime_type = input.mime_type.split(";", 1)[0].strip().lower()
        attachment_id = self.generate_attachment_id(mime_type, context)
        presigned = (
            await sync_to_async(presigned_put_url)(incoming_name(attachment_id), mime_type)
            if conf.ATTACHMENT_PRESIGNED_UPLOADS
            else None
        )
        if presigned is not None:
            descriptor = AttachmentUploadDescriptor(
                url=presigned,  # type: ignore[arg-type]
                method="PUT",
                headers={"Content-Type": mime_type},
            )
        else:
            descriptor = AttachmentUploadDescriptor(
                url=upload_url(attachment_id, context),  # type: ignore[arg-type]
                method=conf.ATTACHMENT_UPLOAD_METHOD,
                headers={},
            )
        attachment = build_attachment(
            attachment_id, display_name(input.name), mime_type, context, descriptor
        )
        # The row is written now, under the owner's upload lock, so the pending uploads
        # counted are the ones there are; a presigned upload's row also says where the bytes
        # will be, to find and check them once they arrive. The server then saves the same
        # metadata again (Store.save_attachment).
        file_name = incoming_name(attachment_id) if presigned is not None else ""
        await sync_to_async(_admit_two_phase)(attachment, context, input.size, file_name)
        return attachment

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # The server deletes the row next (Store.delete_attachment), which checks ownership,
        # and the bytes go with the row (``delete_file_with_row``). Nothing to do before.
        return None


def complete_upload(attachment_id: str, file: IO[bytes], size: int) -> Attachment:
    """Store the bytes of a two-phase upload and clear its descriptor (sync, one transaction).

    Raises ``NotFoundError`` if the attachment is gone or already has its bytes (a replay),
    and ``UploadRefused`` if the bytes are not the declared type.
    """
    with transaction.atomic():
        row = (
            models.Attachment.objects.select_for_update()
            .filter(id=attachment_id, uploaded_at__isnull=True)
            .first()
        )
        if row is None:
            raise NotFoundError(attachment_id)
        if size > int(conf.ATTACHMENT_MAX_BYTES):
            raise too_large()
        quotas.admit(quotas.owner_of(row), adding=size, replacing=row.id)
        detected = sniff(file, row.mime_type)
        if detected != row.mime_type:
            raise UploadRefused(
                f"The file's content is {detected}, not the declared {row.mime_type}.",
                code="attachment_type",
                status=415,
            )
        file_name = store_bytes(attachment_id, file)
        try:
            data = {**row.data, "upload_descriptor": None}
            models.Attachment.objects.filter(id=attachment_id).update(
                file_name=file_name, size=size, uploaded_at=timezone.now(), data=data
            )
        except BaseException:
            get_storage().delete(file_name)
            raise
    return ATTACHMENT_ADAPTER.validate_python(data)


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


def model_content(attachment: Attachment) -> dict[str, Any]:
    """What the model gets for an attachment (sync: reads storage).

    Images become image input and PDFs file input (both as data URLs, which every provider
    accepts), text-like files become text within ``ATTACHMENT_MODEL_TEXT_CHARS``; anything
    else, or anything too large, is described by name and type instead of failing the turn.
    """
    mime_type = attachment.mime_type
    described = {
        "type": "input_text",
        "text": f"[The user attached a file: {attachment.name} ({mime_type})]",
    }
    if is_text(mime_type):
        chars = int(conf.ATTACHMENT_MODEL_TEXT_CHARS)
        raw = read_bytes(attachment.id, chars * 4)
        if raw is None:
            return described
        text = raw.decode("utf-8", errors="replace")
        cut = len(text) > chars
        text = text[:chars]
        note = "\n[The file is longer; the rest was left out.]" if cut else ""
        return {
            "type": "input_text",
            "text": f"The user attached {attachment.name}:\n<file>\n{text}\n</file>{note}",
        }
    if mime_type in IMAGE_TYPES or mime_type == "application/pdf":
        limit = int(conf.ATTACHMENT_MODEL_MAX_BYTES)
        raw = read_bytes(attachment.id, limit)
        if raw is None or len(raw) > limit:
            return described
        data_url = f"data:{mime_type};base64,{base64.b64encode(raw).decode()}"
        if mime_type == "application/pdf":
            return {"type": "input_file", "file_data": data_url, "filename": attachment.name}
        return {"type": "input_image", "image_url": data_url, "detail": "auto"}
    return described
