"""Attachments: uploads, their bytes in Django storage, signed URLs, and what the model sees.

- ``views``: the endpoints (direct upload, the two-phase upload URL, downloads);
- ``store``: ``DjangoAttachmentStore``, the SDK's attachment store;
- ``intake``: the checks every upload passes (size, type from the bytes, quota) and
  ``accept_upload``, the one way bytes fill an announced attachment;
- ``presigned``: uploads straight to S3, checked on first use;
- ``files``: storage names and bytes; ``filetypes``: what a file really is;
- ``tokens``: signed upload, download and preview URLs; ``records``: the ``Attachment`` JSON;
- ``quotas``: per-owner volume; ``envelopes``: multipart bodies stored as if they were a file;
- ``model_input``: what the model gets for a file; ``cleanup``: abandoned uploads;
- ``generated``: images the agent generates, stored like uploads.

Other modules use the names below.
"""

from .cleanup import stray_incoming_before, unattached_before
from .files import delete_file_with_row, display_name, get_storage, storage_name
from .generated import generated_image_input, keep_generated_image
from .model_input import model_content
from .presigned import finish_presigned_upload
from .records import ATTACHMENT_ADAPTER, build_attachment
from .store import DjangoAttachmentStore
from .tokens import download_url, refresh_generated_image, refresh_preview, served_attachment_id

__all__ = [
    "ATTACHMENT_ADAPTER",
    "DjangoAttachmentStore",
    "build_attachment",
    "delete_file_with_row",
    "display_name",
    "download_url",
    "finish_presigned_upload",
    "generated_image_input",
    "get_storage",
    "keep_generated_image",
    "model_content",
    "refresh_generated_image",
    "refresh_preview",
    "served_attachment_id",
    "storage_name",
    "stray_incoming_before",
    "unattached_before",
]
