"""Attachment records: the rows behind uploads, scoped like threads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Attachment
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from .. import models
from ..attachments import ATTACHMENT_ADAPTER, finish_presigned_upload, refresh_preview
from ..connections import database_hop
from ..context import RequestContext
from .base import ScopedStore


class AttachmentsMixin(ScopedStore):
    def attachment_rows(
        self, context: RequestContext, *, write: bool
    ) -> QuerySet[models.Attachment]:
        """The attachments ``context`` may read (``write=False``) or change, as the access
        policy decides."""
        return self.policy().attachments(context, write=write)

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        await database_hop(self.save_attachment_record)(attachment, context)

    def save_attachment_record(
        self, attachment: Attachment, context: RequestContext, **file_fields: Any
    ) -> None:
        """``save_attachment``, synchronously, with ``Attachment`` row fields of the bytes
        (``file_name``, ``size``, ``uploaded_at``) for the upload code that stored them."""
        self.write_new_thread(context)  # the attachment may name threads.create's thread
        fields = {
            "name": attachment.name,
            "mime_type": attachment.mime_type,
            "thread_id": attachment.thread_id,
            "data": attachment.model_dump(mode="json"),
            **file_fields,
        }
        with transaction.atomic():
            if (
                attachment.thread_id
                and not self._threads(context, write=True).filter(id=attachment.thread_id).exists()
            ):
                self._vanished(attachment.thread_id, context)
                return
            updated = (
                self.attachment_rows(context, write=True).filter(id=attachment.id).update(**fields)
            )
            if not updated:
                try:
                    with transaction.atomic():
                        models.Attachment.objects.create(
                            id=attachment.id, **context.owner.as_fields(), **fields
                        )
                except IntegrityError:
                    raise NotFoundError(f"Attachment {attachment.id} not found") from None

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        return await database_hop(self._load_attachment)(attachment_id, context)

    async def load_attachment_to_change(
        self, attachment_id: str, context: RequestContext
    ) -> Attachment:
        """``load_attachment`` for a caller about to change or delete the attachment.

        Raises ``NotFoundError`` unless the access policy lets ``context`` write it.
        """
        return await database_hop(self._load_attachment)(attachment_id, context, write=True)

    def _load_attachment(
        self, attachment_id: str, context: RequestContext, *, write: bool = False
    ) -> Attachment:
        data = (
            self.attachment_rows(context, write=write)
            .filter(id=attachment_id)
            .values_list("data", flat=True)
            .first()
        )
        if data is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return ATTACHMENT_ADAPTER.validate_python(refresh_preview(data, context))

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await database_hop(self._delete_attachment)(attachment_id, context)

    def _delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        with transaction.atomic():
            # Locked first: an upload in flight holds the row until its bytes are stored, and
            # the row read after it knows their name, so the file goes with the row.
            row = (
                self.attachment_rows(context, write=True)
                .select_for_update(of=("self",))
                .filter(id=attachment_id)
                .first()
            )
            if row is not None:  # the SDK's contract: deleting what is not there is a no-op
                row.delete()

    async def usable_attachments(
        self, attachment_ids: Iterable[str], context: RequestContext
    ) -> dict[str, bool]:
        """For each of ``attachment_ids`` the caller may use: whether its bytes arrived."""
        ids = set(attachment_ids)
        if not ids:
            return {}

        def query() -> dict[str, bool]:
            rows = self.attachment_rows(context, write=True).filter(id__in=ids)
            usable = {
                id_: uploaded is not None or (bool(name) and finish_presigned_upload(id_))
                for id_, uploaded, name in rows.values_list("id", "uploaded_at", "file_name")
            }
            return usable

        return await database_hop(query)()
