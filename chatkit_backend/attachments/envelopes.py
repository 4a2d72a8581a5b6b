"""Multipart envelopes stored as if they were the file.

The SDK documents two-phase uploads as ``multipart/form-data`` with a ``file`` field. A client
that sends that body to a presigned S3 ``PUT`` (with the descriptor's ``Content-Type``, so the
signature holds) leaves the whole envelope in the bucket. :func:`unwrap` finds the ``file``
part of such an envelope with Django's own multipart parser.
"""

from __future__ import annotations

import re
from typing import IO

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

# RFC 2046: a boundary is 1-70 of these characters (not ending in a space), and the body's
# first line is "--" + boundary.
FIRST_LINE = re.compile(rb"--([0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?])\r\n")
HEAD_BYTES = 4096
# Room for boundaries and part headers around a file: what a multipart body may add to it.
MULTIPART_SLACK = 64 * 1024


def unwrap(handle: IO[bytes], size: int) -> UploadedFile | None:
    """The ``file`` part if ``handle`` holds a ``multipart/form-data`` body, else ``None``.

    ``handle`` is left at its start. The part is spooled to a temporary file; close it.
    """
    head = handle.read(HEAD_BYTES)
    handle.seek(0)
    first = FIRST_LINE.match(head)
    if first is None:
        return None
    part_headers = head[first.end() :].split(b"\r\n\r\n", 1)[0].lower()
    if not part_headers.startswith(b"content-disposition: form-data"):
        return None
    boundary = first.group(1).decode("ascii")
    meta = {
        "CONTENT_TYPE": f'multipart/form-data; boundary="{boundary}"',
        "CONTENT_LENGTH": str(size),
    }
    parser = MultiPartParser(meta, handle, [TemporaryFileUploadHandler()], "utf-8")
    try:
        _, files = parser.parse()
    except (MultiPartParserError, SuspiciousOperation, BadRequest):
        handle.seek(0)
        return None  # not a well-formed envelope after all: judged as the file it is
    return files.get("file")
