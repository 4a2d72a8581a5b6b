"""The HTTP answers and checks every endpoint shares: JSON errors, the 405 with ``Allow``,
the declared body size, the origin allowlist, credentials and rate limits (:func:`guard`), and
the one-event SSE stream a streaming op is refused with."""

from __future__ import annotations

from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from chatkit.types import ErrorEvent
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from ..auth import AuthenticationError, authenticate
from ..conf import conf
from ..context import RequestContext
from ..throttling import throttle_wait

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def error_response(status: int, code: str, message: str, **extra: object) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)


def method_not_allowed(methods: tuple[str, ...]) -> JsonResponse:
    """405, with the ``Allow`` header RFC 9110 asks for."""
    response = error_response(405, "method_not_allowed", f"Use {' or '.join(methods)}.")
    response["Allow"] = ", ".join(methods)
    return response


def declared_length(request: HttpRequest) -> int:
    """The body size ``Content-Length`` declares (0 when it declares none we can read)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def origin_refused(request: HttpRequest) -> bool:
    allowed = conf.ALLOWED_ORIGINS
    origin = request.headers.get("Origin")
    return allowed is not None and origin is not None and origin not in allowed


def method_or_origin_refused(
    request: HttpRequest, methods: tuple[str, ...]
) -> HttpResponseBase | None:
    if request.method not in methods:
        return method_not_allowed(methods)
    if origin_refused(request):
        return error_response(403, "origin_not_allowed", "This origin may not use the API.")
    return None


def credentials_refused(error: AuthenticationError) -> HttpResponseBase:
    response = error_response(error.status, error.code, error.message)
    if error.challenge:
        response["WWW-Authenticate"] = error.challenge
    return response


async def _single_event(event: ErrorEvent) -> AsyncIterator[bytes]:
    yield b"data: " + event.model_dump_json(exclude_none=True).encode() + b"\n\n"


def error_stream(message: str, *, allow_retry: bool) -> StreamingHttpResponse:
    """A stream of one error event: how a streaming op is refused once it is understood.

    The widget shows an error event; a bare 4xx would read as a broken backend. Nothing was
    stored.
    """
    return StreamingHttpResponse(
        _single_event(ErrorEvent(code="custom", message=message, allow_retry=allow_retry)),
        content_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def throttled(streaming: bool, wait: float) -> HttpResponseBase:
    seconds = max(1, round(wait))
    message = f"Too many requests. Try again in {seconds} second{'s' if seconds != 1 else ''}."
    if streaming:
        response: HttpResponseBase = error_stream(message, allow_retry=True)
    else:
        response = error_response(429, "throttled", message)
    response["Retry-After"] = str(seconds)
    return response


def _authenticate_and_throttle(
    request: HttpRequest, scope: str | None
) -> tuple[RequestContext, float | None]:
    # One thread hop for both: each hop costs a context switch on every request.
    context = authenticate(request)
    return context, (throttle_wait(scope, request, context) if scope else None)


async def guard(
    request: HttpRequest,
    *,
    methods: tuple[str, ...],
    scope: str | None,
    streaming: bool = False,
) -> RequestContext | HttpResponseBase:
    """The checks every authenticated endpoint makes, in order: method, origin, credentials
    and (for ``scope``) the rate limit. Returns the context or the refusal."""
    refused = method_or_origin_refused(request, methods)
    if refused is not None:
        return refused
    try:
        context, wait = await sync_to_async(_authenticate_and_throttle)(request, scope)
    except AuthenticationError as error:
        return credentials_refused(error)
    if wait is not None:
        return throttled(streaming, wait)
    return context
