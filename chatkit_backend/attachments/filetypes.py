"""What a file really is, judged from its own bytes, and how it may be served back."""

from __future__ import annotations

import filetype

# Types a browser may render inline from our origin without risk: raster images only.
INLINE_SAFE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
IMAGE_TYPES = INLINE_SAFE
TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "text/html",
        "image/svg+xml",
        "text/xml",
        "application/xml",
    }
)
SNIFF_BYTES = 8192


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True


def detect(head: bytes, claimed: str) -> str | None:
    """The MIME type the first bytes prove, or ``None`` if they match no type we know.

    Binary formats are recognised by their magic numbers. Text has none, so for text the
    client's claim is kept when it is a text type and the bytes are text; markup (HTML, SVG)
    is recognised whatever the claim.
    """
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    claimed = claimed.split(";", 1)[0].strip().lower()
    if not _looks_like_text(head):
        return None
    # Markup is recognised whatever the claim: it is what a browser would run.
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<svg", b"<?xml")) and b"<svg" in stripped[:1000]:
        return "image/svg+xml"
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if is_text(claimed):
        return claimed
    if claimed in ("", "application/octet-stream"):
        return "text/plain"
    return None  # text sent as an image, a PDF...: the claim is false


def is_text(mime_type: str) -> bool:
    return mime_type in TEXT_TYPES or mime_type.startswith("text/")
