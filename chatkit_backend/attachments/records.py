"""The ``Attachment`` objects the protocol carries, built and read back from their JSON."""

from __future__ import annotations

from typing import Any

from chatkit.types import (
    Attachment,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from pydantic import TypeAdapter

from ..context import RequestContext
from .filetypes import IMAGE_TYPES
from .tokens import download_url

ATTACHMENT_ADAPTER: TypeAdapter[Attachment] = TypeAdapter(Attachment)


def build_attachment(
    attachment_id: str,
    name: str,
    mime_type: str,
    context: RequestContext,
    descriptor: AttachmentUploadDescriptor | None = None,
) -> Attachment:
    """An image attachment (with a signed ``preview_url``) or a file attachment."""
    common: dict[str, Any] = {
        "id": attachment_id,
        "name": name,
        "mime_type": mime_type,
        "upload_descriptor": descriptor,
    }
    if mime_type in IMAGE_TYPES:
        return ImageAttachment(preview_url=download_url(attachment_id, context), **common)
    return FileAttachment(**common)
