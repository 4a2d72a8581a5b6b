"""Generated images into storage as they stream, so no base64 reaches the thread's items."""

from __future__ import annotations

import base64
import binascii
import logging

from asgiref.sync import sync_to_async
from chatkit.agents import ResponseStreamConverter

from ..attachments import download_url, keep_generated_image
from ..context import RequestContext
from ..ids import generate_id

logger = logging.getLogger(__name__)

# What a generated image shows when it could not be stored: never its base64.
UNAVAILABLE = "about:blank"


class StoredImageConverter(ResponseStreamConverter):
    """``stream_agent_response``'s converter, with images stored through Django storage.

    The SDK's default turns each generated image (and each partial image while it renders)
    into a ``data:`` URL, which the thread item then stores. Here every image of a run (one
    per image generation call; its partial images replace each other) becomes an attachment
    of the thread's owner, and the item carries a signed URL to it.
    """

    def __init__(self, thread_id: str, context: RequestContext, *, partial_images: int = 0):
        super().__init__(partial_images=partial_images or None)
        self.thread_id = thread_id
        self.context = context
        self.attachment_ids: dict[str, str] = {}  # image generation call id -> attachment id

    async def base64_image_to_url(
        self, image_id: str, base64_image: str, partial_image_index: int | None = None
    ) -> str:
        attachment_id = self.attachment_ids.setdefault(image_id, generate_id("attachment"))
        try:
            raw = base64.b64decode(base64_image, validate=True)
        except (binascii.Error, ValueError):
            logger.warning("Generated image %s is not valid base64", image_id)
            return UNAVAILABLE
        stored = await sync_to_async(keep_generated_image)(
            attachment_id, raw, self.thread_id, self.context
        )
        if not stored:
            return UNAVAILABLE
        # A new version of the image gets a URL of its own, so no browser shows a cached one.
        version = "final" if partial_image_index is None else f"partial-{partial_image_index}"
        return f"{download_url(attachment_id, self.context)}&v={version}"
