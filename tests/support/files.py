"""Sample files, and what uploads leave behind."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile


def _png() -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG = _png()  # a real 1x1 PNG: its bytes say what it is
PNG_SIZE = len(PNG)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def stored_files(media: Path) -> list[str]:
    """The names of the files under ``media`` (the test's MEDIA_ROOT)."""
    return sorted(p.name for p in media.rglob("*") if p.is_file())


def upload(client, name, content, content_type):
    """A direct upload (``chatkit/api/upload``) through Django's test ``client``."""
    return client.post(
        "/chatkit/api/upload", {"file": SimpleUploadedFile(name, content, content_type)}
    )
