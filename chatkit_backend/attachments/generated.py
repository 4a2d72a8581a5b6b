"""Images the agent generates, kept like uploads: bytes in storage, a row, signed URLs.

The Responses API hands generated images over as base64. Stored as a ``data:`` URL in the
thread item (the SDK's default), each would put megabytes into the database and every page
of the thread. Instead the bytes go to the attachment storage as an attachment of the
thread's owner (``chatkit/attachments/<id>``, counted in their stored bytes), and the item
carries our signed download URL, signed afresh whenever the item is read. Only the owner (or
someone they hand a fresh URL) can fetch it, and it goes when the thread goes.
"""

from __future__ import annotations

import base64
import io

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import models
from ..conf import conf
from ..context import RequestContext
from .files import get_storage, read_bytes, store_bytes
from .filetypes import IMAGE_TYPES, SNIFF_BYTES, detect
from .records import build_attachment

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def keep_generated_image(
    attachment_id: str, raw: bytes, thread_id: str, context: RequestContext
) -> bool:
    """Store (or replace, for a partial image's next version) a generated image as the
    attachment ``attachment_id`` of ``thread_id``. False if it is not an image we serve, or
    the thread is gone."""
    mime_type = detect(raw[:SNIFF_BYTES], "image/png")
    if mime_type not in IMAGE_TYPES:
        return False
    name = f"generated-image.{EXTENSIONS[mime_type]}"
    data = build_attachment(attachment_id, name, mime_type, context).model_dump(mode="json")
    with transaction.atomic():
        old = (
            models.Attachment.objects.select_for_update()
            .filter(id=attachment_id, **context.owner.as_filter())
            .values_list("file_name", flat=True)
            .first()
        )
        stored = store_bytes(attachment_id, io.BytesIO(raw))
        fields = {
            "name": name,
            "mime_type": mime_type,
            "thread_id": thread_id,
            "data": data,
            "file_name": stored,
            "size": len(raw),
            "uploaded_at": timezone.now(),
        }
        try:
            with transaction.atomic():
                models.Attachment.objects.update_or_create(
                    id=attachment_id,
                    defaults=fields,
                    create_defaults={**fields, **context.owner.as_fields()},
                )
        except IntegrityError:  # the thread was deleted meanwhile
            transaction.on_commit(lambda: get_storage().delete(stored))
            return False
        if old and old != stored:
            transaction.on_commit(lambda: get_storage().delete(old))
    return True


def generated_image_input(attachment_id: str, thread_id: str) -> dict[str, str] | None:
    """A generated image of ``thread_id`` as model input (a data URL), or ``None`` if it is
    gone or larger than ``ATTACHMENT_MODEL_MAX_BYTES``."""
    row = (
        models.Attachment.objects.filter(id=attachment_id, thread_id=thread_id)
        .values("mime_type")
        .first()
    )
    limit = conf.ATTACHMENT_MODEL_MAX_BYTES
    raw = read_bytes(attachment_id, limit) if row is not None else None
    if raw is None or len(raw) > limit:
        return None
    encoded = base64.b64encode(raw).decode()
    url = f"data:{row['mime_type']};base64,{encoded}"
    return {"type": "input_image", "image_url": url, "detail": "auto"}
