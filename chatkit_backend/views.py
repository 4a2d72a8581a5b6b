"""Where a ChatKit request enters: ``POST chatkit/api``.

The order of checks is the order of the answers a client can get: 413 (declared size), 405
(method), 403 (origin), 401/403 (credentials, CSRF; the body is not read before them), 429
(rate; every authenticated request counts, refused bodies too), 413/400 (the body's size and
content), 404/400/409 (what the request names), then 200.
"""

from __future__ import annotations

from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import ChatKitReq, is_streaming_req
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from .auth import AuthenticationError, authenticate
from .conf import conf
from .connections import database_hop
from .context import RequestContext
from .exceptions import RequestError, TurnRefused
from .intake.http import (
    SSE_HEADERS,
    credentials_refused,
    declared_length,
    error_response,
    error_stream,
    method_or_origin_refused,
    throttled,
)
from .server import DjangoChatKitServer, get_server
from .throttling import throttle_wait


def _validation_details(error: ValidationError) -> list[dict[str, object]]:
    # Only where and what: echoing the offending input back helps nobody and may be large.
    return [
        {"loc": list(detail["loc"]), "msg": detail["msg"], "type": detail["type"]}
        for detail in error.errors(include_url=False, include_input=False)[:20]
    ]


def _too_large_error() -> RequestError:
    return RequestError("The request body is too large.", code="request_too_large", status=413)


Received = tuple[
    RequestContext, "ChatKitReq | RequestError | ValidationError | NotFoundError", float | None
]


def _receive(request: HttpRequest, server: DjangoChatKitServer) -> Received:
    """Authenticate, then read and parse the body, then count the request against its rate.

    Credentials come first, from headers and cookies: a caller without them gets its 401
    before its body is read or parsed, so bodies cost nothing to people who cannot log in.
    All of it runs in one thread hop, off the event loop's thread: a large body's parsing
    holds the GIL either way, but other requests' Python code gets its turns meanwhile. A
    streaming request's turn starts in it too, and a read's thread and page are read
    (``DjangoChatKitServer.prepare``); refusals (404, 409, 429 for a spent budget) come back
    in place of the parsed request.
    """
    context = authenticate(request)  # raises AuthenticationError
    parsed: ChatKitReq | RequestError | ValidationError | NotFoundError
    try:
        body = request.body  # capped by Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        if len(body) > conf.MAX_REQUEST_BYTES:
            raise _too_large_error()  # a chunked body declares no length up front
        parsed = server.parse(body)
    except RequestDataTooBig:
        parsed = _too_large_error()
    except (ValidationError, RequestError) as error:
        parsed = error
    # Refused bodies count as requests: a flood of them is throttled like any other.
    streaming = not isinstance(parsed, Exception) and is_streaming_req(parsed)
    wait = throttle_wait("turns" if streaming else "requests", request, context)
    if wait is None and not isinstance(parsed, Exception):
        try:
            server.prepare(parsed, context)  # same hop: the request's first database work
        except (NotFoundError, RequestError) as error:
            parsed = error
    return context, parsed, wait


# CSRF is enforced by DRF's SessionAuthentication for session-authenticated requests only, so
# bearer-token clients on other origins work; Django's blanket middleware check is lifted here.
@csrf_exempt
async def chatkit_api(request: HttpRequest) -> HttpResponseBase:
    """The ChatKit protocol endpoint: JSON ops answer JSON, streaming ops answer SSE."""
    if declared_length(request) > conf.MAX_REQUEST_BYTES:
        # Refused before the body is read.
        return error_response(413, "request_too_large", "The request body is too large.")
    refused = method_or_origin_refused(request, ("POST",))
    if refused is not None:
        return refused
    server = get_server()
    try:
        context, parsed, wait = await database_hop(_receive)(request, server)
    except AuthenticationError as error:
        return credentials_refused(error)
    if wait is not None:
        return throttled(not isinstance(parsed, Exception) and is_streaming_req(parsed), wait)

    try:
        if isinstance(parsed, Exception):
            raise parsed
        result = await server.process(parsed, context)
    except ValidationError as error:
        return error_response(
            400,
            "invalid_request",
            "The request is not a valid ChatKit request.",
            details=_validation_details(error),
        )
    except NotFoundError:
        return error_response(404, "not_found", "Not found.")
    except TurnRefused as error:
        return error_stream(error.message, allow_retry=False)
    except RequestError as error:
        return error_response(error.status, error.code, error.message)
    except ValueError as error:
        # The SDK raises ValueError for requests that do not fit the thread's state.
        return error_response(400, "invalid_request", str(error))

    if isinstance(result, StreamingResult):
        return StreamingHttpResponse(result, content_type="text/event-stream", headers=SSE_HEADERS)
    return HttpResponse(result.json, content_type="application/json")
