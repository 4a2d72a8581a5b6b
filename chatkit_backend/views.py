"""Where a ChatKit request enters: ``POST chatkit/api`` (and the upload endpoint, later)."""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from .auth import AuthenticationError, authenticate
from .conf import conf
from .exceptions import RequestError
from .server import get_server

logger = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def error_response(status: int, code: str, message: str, **extra: object) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)


def _validation_details(error: ValidationError) -> list[dict[str, object]]:
    # Only where and what: echoing the offending input back helps nobody and may be large.
    return [
        {"loc": list(detail["loc"]), "msg": detail["msg"], "type": detail["type"]}
        for detail in error.errors(include_url=False, include_input=False)[:20]
    ]


# CSRF is enforced by DRF's SessionAuthentication for session-authenticated requests only, so
# bearer-token clients on other origins work; Django's blanket middleware check is lifted here.
@csrf_exempt
async def chatkit_api(request: HttpRequest) -> HttpResponse:
    """The ChatKit protocol endpoint: JSON ops answer JSON, streaming ops answer SSE."""
    if request.method != "POST":
        response = error_response(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > int(conf.MAX_REQUEST_BYTES):
        return error_response(413, "request_too_large", "The request body is too large.")

    try:
        context = await sync_to_async(authenticate)(request)
    except AuthenticationError as error:
        response = error_response(error.status, error.code, error.message)
        if error.challenge:
            response["WWW-Authenticate"] = error.challenge
        return response

    server = get_server()
    try:
        result = await server.process(request.body, context)
    except ValidationError as error:
        return error_response(
            400,
            "invalid_request",
            "The request is not a valid ChatKit request.",
            details=_validation_details(error),
        )
    except NotFoundError:
        return error_response(404, "not_found", "Not found.")
    except RequestError as error:
        return error_response(error.status, error.code, error.message)
    except ValueError as error:
        # The SDK raises ValueError for requests that do not fit the thread's state.
        return error_response(400, "invalid_request", str(error))

    if isinstance(result, StreamingResult):
        return StreamingHttpResponse(result, content_type="text/event-stream", headers=SSE_HEADERS)
    return HttpResponse(result.json, content_type="application/json")
