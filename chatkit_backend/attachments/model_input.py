"""What the model sees of an attached file."""

from __future__ import annotations

import base64
from typing import Any

from chatkit.types import Attachment

from ..conf import conf
from .files import read_bytes
from .filetypes import IMAGE_TYPES, is_text


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
        chars = conf.ATTACHMENT_MODEL_TEXT_CHARS
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
        limit = conf.ATTACHMENT_MODEL_MAX_BYTES
        raw = read_bytes(attachment.id, limit)
        if raw is None or len(raw) > limit:
            return described
        data_url = f"data:{mime_type};base64,{base64.b64encode(raw).decode()}"
        if mime_type == "application/pdf":
            return {"type": "input_file", "file_data": data_url, "filename": attachment.name}
        return {"type": "input_image", "image_url": data_url, "detail": "auto"}
    return described
