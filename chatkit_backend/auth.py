"""Who is asking: DRF authentication classes turned into a request context.

Session authentication enforces Django's CSRF check (as DRF's own views do), so the page's
``fetch`` must send the token; bearer tokens (SimpleJWT) need no CSRF token. Anonymous
visitors (``ALLOW_ANONYMOUS``) are held to the same CSRF check as logged-in sessions.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request

from .conf import conf
from .context import Owner, RequestContext
from .exceptions import RequestError
from .intake.clients import client_address


class AuthenticationError(RequestError):
    """401 or 403, with the ``WWW-Authenticate`` challenge when there is one."""

    def __init__(self, message: str, *, status: int, code: str, challenge: str | None = None):
        super().__init__(message, code=code, status=status)
        self.challenge = challenge


class _UnreadBody(BaseParser):
    """Lets DRF's CSRF check look at ``request.POST`` without parsing (or reading) the body.

    DRF wraps the request for authentication; its CSRF check reads ``POST``, which a DRF
    request without parsers answers with 415. A JSON protocol body is read once, later;
    form and multipart bodies (uploads) are parsed by DRF's own parsers, listed first, so
    their files reach the view.
    """

    media_type = "*/*"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> dict:
        return {}


def _authenticators() -> list[Any]:
    return [authenticator() for authenticator in conf.imported("AUTHENTICATION_CLASSES")]


def _challenge(request: HttpRequest, authenticators: list[Any]) -> str | None:
    for authenticator in authenticators:
        header = authenticator.authenticate_header(request)
        if header:
            return header
    return None


def readable(detail: Any) -> str:
    """DRF's error detail as a sentence: SimpleJWT nests its message in a dict (with the
    token's per-type messages), which ``str()`` would turn into Python reprs."""
    if isinstance(detail, dict):
        if "detail" in detail:
            return readable(detail["detail"])
        return " ".join(readable(value) for value in detail.values())
    if isinstance(detail, list | tuple):
        return " ".join(readable(value) for value in detail)
    return str(detail)


def _refused(error: exceptions.APIException) -> AuthenticationError:
    return AuthenticationError(
        readable(error.detail), status=error.status_code, code="permission_denied"
    )


def preferred_locale(request: HttpRequest) -> str | None:
    """The first language of ``Accept-Language``, where the widget sends its locale."""
    header = request.headers.get("Accept-Language", "")
    first = header.split(",", 1)[0].split(";", 1)[0].strip()
    return first if first and first != "*" else None


def authenticate(request: HttpRequest) -> RequestContext:
    """Authenticate ``request`` (synchronously: sessions and user lookups hit the database)."""
    authenticators = _authenticators()
    drf_request = Request(
        request,
        parsers=[FormParser(), MultiPartParser(), _UnreadBody()],
        authenticators=authenticators,
    )
    try:
        user = drf_request.user
    except exceptions.AuthenticationFailed as error:
        raise AuthenticationError(
            readable(error.detail),
            status=401,
            code="authentication_failed",
            challenge=_challenge(request, authenticators),
        ) from None
    except exceptions.APIException as error:  # CSRF failure is a PermissionDenied
        raise _refused(error) from None

    if user is not None and user.is_authenticated:
        owner = Owner(user_id=user.pk)
    elif conf.ALLOW_ANONYMOUS and hasattr(request, "session"):
        # A visitor's session cookie is a credential like a logged-in one: another site's page
        # must not be able to use it (DRF checks CSRF only for a logged-in session).
        try:
            SessionAuthentication().enforce_csrf(drf_request)
        except exceptions.PermissionDenied as error:
            raise _refused(error) from None
        if not request.session.session_key:
            request.session.save()
        owner = Owner(session_key=request.session.session_key)
        user = None
    else:
        raise AuthenticationError(
            "Authentication credentials were not provided.",
            status=401,
            code="not_authenticated",
            challenge=_challenge(request, authenticators) or 'Session realm="api"',
        )
    return RequestContext(
        owner=owner,
        user=user,
        request=request,
        locale=preferred_locale(request),
        client_address=client_address(request),
    )
