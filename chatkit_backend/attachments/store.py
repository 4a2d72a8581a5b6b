"""``DjangoAttachmentStore``: the SDK's ``AttachmentStore``, for two-phase and direct uploads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from chatkit.store import AttachmentStore
from chatkit.types import Attachment, AttachmentCreateParams, AttachmentUploadDescriptor
from django.utils import timezone

from ..conf import conf
from ..context import RequestContext
from ..ids import generate_id
from . import quotas
from .files import display_name, get_storage, incoming_name, store_bytes
from .intake import check_declared, check_size, sniff
from .presigned import presigned_put_url
from .records import build_attachment
from .tokens import upload_url

if TYPE_CHECKING:
    from ..store import DjangoStore


class DjangoAttachmentStore(AttachmentStore[RequestContext]):
    """Two-phase uploads and direct uploads, their rows written through ``store``.

    Deleting an attachment is the store's (``Store.delete_attachment``, which checks
    ownership); its bytes go with its row (``files.delete_file_with_row``).
    """

    def __init__(self, store: DjangoStore):
        self.store = store

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
        await sync_to_async(self.admit_announced)(attachment, context, input.size, file_name)
        return attachment

    def admit_announced(
        self, attachment: Attachment, context: RequestContext, declared: int, file_name: str
    ) -> None:
        # The declared size is the client's word: the bytes are counted again when they arrive.
        with quotas.admitting(context.owner, adding=declared, new=True):
            self.store.save_attachment_record(attachment, context, file_name=file_name)

    def add_uploaded(self, file: Any, context: RequestContext) -> Attachment:
        """A new attachment holding ``file`` (a Django ``UploadedFile``): a direct upload.

        Sync. Checks the size, the type from the bytes (the browser's claim decides nothing:
        it sends ``application/octet-stream`` for any extension it does not know) and the
        owner's quota, then keeps the bytes and the row.
        """
        check_size(file.size)
        mime_type = sniff(file, file.content_type or "")
        # Checked before the bytes are stored, and again, under the owner's lock, with the row.
        quotas.check(context.owner, adding=file.size, new=True)
        attachment_id = generate_id("attachment")
        attachment = build_attachment(attachment_id, display_name(file.name), mime_type, context)
        file_name = store_bytes(attachment_id, file)
        try:
            with quotas.admitting(context.owner, adding=file.size, new=True):
                self.store.save_attachment_record(
                    attachment,
                    context,
                    file_name=file_name,
                    size=file.size,
                    uploaded_at=timezone.now(),
                )
        except BaseException:
            get_storage().delete(file_name)
            raise
        return attachment

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # The server deletes the row next (Store.delete_attachment), which checks ownership,
        # and the bytes go with the row (``delete_file_with_row``). Nothing to do before.
        return None
