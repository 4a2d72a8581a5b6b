"""Signed, expiring capabilities for attachment uploads and downloads, and the URLs that carry
them.

A two-phase upload URL and an image's ``preview_url`` must work without the widget's auth
headers (the browser fetches them directly), so the URL itself carries a signature bound to
one attachment and one purpose, and expires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core import signing
from django.urls import reverse

from ..context import RequestContext

SALT = "chatkit_backend.attachments"
VALID, EXPIRED, INVALID = "valid", "expired", "invalid"


def sign(attachment_id: str, purpose: str) -> str:
    return signing.dumps({"a": attachment_id, "p": purpose}, salt=SALT, compress=False)


def check(token: str, attachment_id: str, purpose: str, max_age: float) -> str:
    """``VALID``, ``EXPIRED`` (made for this attachment, too old) or ``INVALID``."""
    expected = {"a": attachment_id, "p": purpose}
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        # Only say "expired" about a token that was really made for this attachment.
        try:
            data = signing.loads(token, salt=SALT)
        except signing.BadSignature:
            return INVALID
        return EXPIRED if data == expected else INVALID
    except signing.BadSignature:
        return INVALID
    return VALID if data == expected else INVALID


def absolute_url(path: str, context: RequestContext) -> str:
    if context.request is not None:
        return context.request.build_absolute_uri(path)
    return f"http://localhost{path}"


def download_url(attachment_id: str, context: RequestContext) -> str:
    """A signed URL that serves the file without credentials until ``ATTACHMENT_URL_TTL``."""
    token = sign(attachment_id, "download")
    path = reverse("chatkit_backend:attachment", args=[attachment_id])
    return absolute_url(f"{path}?token={token}", context)


def upload_url(attachment_id: str, context: RequestContext) -> str:
    token = sign(attachment_id, "upload")
    path = reverse("chatkit_backend:upload_to", args=[attachment_id])
    return absolute_url(f"{path}?token={token}", context)


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


def served_attachment_id(url: str) -> str | None:
    """The id of the attachment whose download URL ``url`` is (signed or not), or ``None``."""
    marker = "__id__"
    prefix = reverse("chatkit_backend:attachment", args=[marker]).removesuffix(marker)
    path = urlsplit(url).path
    if not path.startswith(prefix):
        return None
    attachment_id = path[len(prefix) :]
    return attachment_id if attachment_id and "/" not in attachment_id else None


def refresh_generated_image(data: dict[str, Any], context: RequestContext) -> dict[str, Any]:
    """Give a ``generated_image`` item's JSON a fresh signed image URL if we store the image
    (see :mod:`~chatkit_backend.attachments.generated`); other items are returned as saved."""
    image = data.get("image") if data.get("type") == "generated_image" else None
    url = image.get("url") if isinstance(image, dict) else None
    attachment_id = served_attachment_id(url) if isinstance(url, str) else None
    if attachment_id is None:
        return data
    return {**data, "image": {**image, "url": download_url(attachment_id, context)}}
