"""Attachment endpoints: direct upload, the two-phase upload target, and downloads.

- ``POST chatkit/api/upload`` (``chatkit_backend:upload``): multipart field ``file``,
  authenticated like the API; answers the Attachment JSON.
- ``POST|PUT chatkit/api/upload/<id>?token=…`` (``chatkit_backend:upload_to``): where a
  two-phase descriptor points, multipart field ``file`` or a raw body, either method; the
  signed token is the credential, works once and expires.
- ``GET chatkit/attachments/<id>`` (``chatkit_backend:attachment``): the bytes, to their owner
  or to anyone holding a fresh signed ``?token=`` (image previews).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError
from chatkit.types import Attachment
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt

from .. import models
from ..conf import conf
from ..context import RequestContext
from ..exceptions import RequestError
from ..intake.http import declared_length, error_response, guard, method_not_allowed
from ..server import get_server
from . import tokens
from .envelopes import MULTIPART_SLACK
from .files import get_storage
from .filetypes import INLINE_SAFE
from .intake import receive_upload, too_large
from .presigned import finish_presigned_upload
from .records import ATTACHMENT_ADAPTER

CHUNK = 64 * 1024
# Never rendered by a browser from our origin, whatever the stored type says.
DANGEROUS_TYPES = frozenset({"text/html", "image/svg+xml", "text/xml", "application/xml"})


class _SizeLimit(FileUploadHandler):
    """Stops a multipart upload as soon as its file passes the limit (nothing is kept)."""

    def __init__(self, request: HttpRequest, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _limit_uploads(request: HttpRequest) -> _SizeLimit:
    """Install the size limit before anything parses the body (authentication's CSRF check
    parses a session's multipart form)."""
    for handler in request.upload_handlers:
        if isinstance(handler, _SizeLimit):
            return handler
    limit = _SizeLimit(request, conf.ATTACHMENT_MAX_BYTES)
    request.upload_handlers.insert(0, limit)
    return limit


def _uploaded_files(request: HttpRequest) -> Any:
    if request.method == "POST":
        return request.FILES
    # Django parses the multipart body of a POST only; a PUT's is parsed the same way here.
    parser = MultiPartParser(request.META, request, request.upload_handlers, request.encoding)
    return parser.parse()[1]


def _multipart_file(request: HttpRequest) -> Any:
    limit = _limit_uploads(request)
    try:
        upload = _uploaded_files(request).get("file")
    except (MultiPartParserError, SuspiciousOperation, BadRequest):
        # A broken boundary, too many parts or fields: Django's parser gives up.
        raise RequestError("The multipart body could not be read.", code="bad_multipart") from None
    if limit.exceeded:
        raise too_large()
    if upload is None:
        raise RequestError("Send the file in the multipart field 'file'.", code="no_file")
    return upload


def _raw_file(request: HttpRequest) -> tuple[IO[bytes], int]:
    """The request body as a temporary file, read in chunks, refused past the limit."""
    limit = conf.ATTACHMENT_MAX_BYTES
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    size = 0
    while chunk := request.read(CHUNK):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise too_large()
        spool.write(chunk)
    spool.seek(0)
    return spool, size


def _declared_too_large(request: HttpRequest) -> bool:
    # Room for the multipart envelope around the file.
    return declared_length(request) > conf.ATTACHMENT_MAX_BYTES + MULTIPART_SLACK


def _refusal(error: RequestError) -> HttpResponse:
    return error_response(error.status, error.code, error.message)


def _attachment_response(attachment: Attachment) -> HttpResponse:
    return HttpResponse(
        attachment.model_dump_json(exclude_none=True, context={"exclude_metadata": True}),
        content_type="application/json",
    )


def _receive_direct(request: HttpRequest, context: RequestContext) -> Attachment:
    return get_server().attachment_store.add_uploaded(_multipart_file(request), context)


@csrf_exempt
async def direct_upload(request: HttpRequest) -> HttpResponse:
    """Direct upload (``uploadStrategy: {type: "direct", uploadUrl}``)."""
    if _declared_too_large(request):
        return _refusal(too_large())
    _limit_uploads(request)
    checked = await guard(request, methods=("POST",), scope="requests")
    if isinstance(checked, HttpResponseBase):
        return checked
    if not conf.ATTACHMENTS:
        return error_response(400, "not_configured", "Attachments are not configured.")
    try:
        attachment = await sync_to_async(_receive_direct)(request, checked)
    except RequestError as error:
        return _refusal(error)
    return _attachment_response(attachment)


def _receive_two_phase(request: HttpRequest, attachment_id: str) -> Attachment:
    if request.content_type == "multipart/form-data":
        upload = _multipart_file(request)
        file, size = upload, upload.size
    else:
        file, size = _raw_file(request)
    try:
        return ATTACHMENT_ADAPTER.validate_python(receive_upload(attachment_id, file, size))
    finally:
        file.close()


@csrf_exempt
async def upload_to(request: HttpRequest, attachment_id: str) -> HttpResponse:
    """The URL a two-phase upload descriptor points at (the signed token authorises it)."""
    if request.method not in ("PUT", "POST"):
        return method_not_allowed(("PUT", "POST"))
    verdict = tokens.check(
        request.GET.get("token", ""), attachment_id, "upload", conf.ATTACHMENT_UPLOAD_URL_TTL
    )
    if verdict == tokens.INVALID:
        return error_response(404, "not_found", "Not found.")
    if verdict == tokens.EXPIRED:
        return error_response(410, "upload_url_expired", "This upload URL has expired.")
    if _declared_too_large(request):
        return _refusal(too_large())
    try:
        attachment = await sync_to_async(_receive_two_phase)(request, attachment_id)
    except NotFoundError:
        exists = await models.Attachment.objects.filter(id=attachment_id).aexists()
        if exists:
            return error_response(409, "already_uploaded", "This upload URL was already used.")
        return error_response(404, "not_found", "Not found.")
    except RequestError as error:
        return _refusal(error)
    return _attachment_response(attachment)


async def _chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await sync_to_async(handle.read)(CHUNK):
            yield chunk
    finally:
        await sync_to_async(handle.close)()


def _open(row: dict[str, Any]) -> IO[bytes]:
    return get_storage().open(row["file_name"], "rb")


# Read-only: a write answers 405 JSON (Django's CSRF page would answer first otherwise).
@csrf_exempt
async def attachment_file(request: HttpRequest, attachment_id: str) -> HttpResponse:
    """Serve an attachment's bytes with headers that keep browsers from running them."""
    token = request.GET.get("token")
    if token is not None:
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed(("GET", "HEAD"))
        verdict = tokens.check(token, attachment_id, "download", conf.ATTACHMENT_URL_TTL)
        rows = (
            models.Attachment.objects.filter(id=attachment_id) if verdict == tokens.VALID else None
        )
    else:
        checked = await guard(request, methods=("GET", "HEAD"), scope="requests")
        if isinstance(checked, HttpResponseBase):
            return checked
        rows = get_server().store.attachment_rows(checked, write=False).filter(id=attachment_id)
    row = None
    if rows is not None:
        row = await rows.values(
            "id", "file_name", "name", "mime_type", "size", "uploaded_at"
        ).afirst()
    if row is not None and row["uploaded_at"] is None:
        # A presigned upload goes straight to the bucket: check it on first use.
        try:
            uploaded = row["file_name"] and await sync_to_async(finish_presigned_upload)(row["id"])
        except RequestError:
            uploaded = False
        row = (
            await rows.values("file_name", "name", "mime_type", "size").afirst()
            if uploaded
            else None
        )
    if row is None:
        return error_response(404, "not_found", "Not found.")

    mime_type = row["mime_type"]
    inline = mime_type in INLINE_SAFE
    served_type = mime_type if mime_type not in DANGEROUS_TYPES else "application/octet-stream"
    if served_type.startswith("text/"):
        served_type += "; charset=utf-8"
    handle = await sync_to_async(_open)(row)
    response = StreamingHttpResponse(_chunks(handle), content_type=served_type)
    response["Content-Disposition"] = content_disposition_header(not inline, row["name"])
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    if row["size"] is not None:
        response["Content-Length"] = str(row["size"])
    return response
