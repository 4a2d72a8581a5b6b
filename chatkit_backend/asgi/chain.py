"""The lean path's middleware: the site's own security middleware, run on the event loop.

Django runs every ``MiddlewareMixin`` middleware on an async request through
``sync_to_async``: two thread hops each (``process_request``, ``process_response``), about 13
for a standard stack, and under load each hop waits for the GIL. The hooks of the middleware
below touch no database, so the lean path calls them directly on the event loop instead.
Only the session's save (a modified session) still takes a hop.

Which middleware runs is the site's choice: an entry of ``MIDDLEWARE`` that is in
:data:`LEAN_MIDDLEWARE` runs, in the site's order; every other entry is skipped. Whatever the
site lists, the host is checked against ``ALLOWED_HOSTS`` (``request.get_host()``), which
``CommonMiddleware`` would otherwise be the one to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.module_loading import import_string

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

#: The middleware the lean path runs when the site lists it (in the site's order): how each
#: one is run. ``native`` middleware is async itself (django-cors-headers); ``inline`` ones
#: are ``MiddlewareMixin`` classes whose hooks are pure (headers, redirects, a lazy user)
#: and run on the event loop; ``session`` loads lazily and saves in a hop when modified.
LEAN_MIDDLEWARE: dict[str, str] = {
    "corsheaders.middleware.CorsMiddleware": "native",
    "django.middleware.security.SecurityMiddleware": "inline",
    "django.contrib.sessions.middleware.SessionMiddleware": "session",
    "django.middleware.common.CommonMiddleware": "inline",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "inline",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "inline",
}


class InlineHooks:
    """A ``MiddlewareMixin`` middleware whose hooks run on the event loop, without a hop.

    Only for middleware whose ``process_request`` / ``process_response`` never touch the
    database or block: exceptions they raise (``DisallowedHost``) become responses the way
    Django's own chain makes them.
    """

    def __init__(self, middleware_class: type[Any], get_response: GetResponse) -> None:
        self.middleware = middleware_class(get_response)
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        process_request = getattr(self.middleware, "process_request", None)
        if process_request is not None:
            response = process_request(request)
        if response is None:
            response = await self.get_response(request)
        process_response = getattr(self.middleware, "process_response", None)
        if process_response is not None:
            response = process_response(request, response)
        return response


class LeanSession:
    """``SessionMiddleware`` with its database work, and only that, in a thread hop.

    The session is loaded lazily (by the authentication, which runs in the view's own hop);
    ``process_response`` saves it only when it was modified (or ``SESSION_SAVE_EVERY_REQUEST``),
    and only then does it need the database.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.middleware = SessionMiddleware(get_response)
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        self.middleware.process_request(request)
        response = await self.get_response(request)
        session = request.session
        saves = (session.modified or settings.SESSION_SAVE_EVERY_REQUEST) and not session.is_empty()
        if saves:
            return await sync_to_async(self.middleware.process_response)(request, response)
        return self.middleware.process_response(request, response)


class HostCheck:
    """``request.get_host()``: a host not in ``ALLOWED_HOSTS`` raises ``DisallowedHost``
    (a 400), whether or not the site lists ``CommonMiddleware``."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.get_host()
        return await self.get_response(request)


Factory = Callable[[GetResponse], Any]


def _factory(path: str, kind: str) -> Factory:
    middleware_class = import_string(path)
    if kind == "inline":
        return lambda get_response: InlineHooks(middleware_class, get_response)
    if kind == "session":
        return LeanSession
    return middleware_class


def lean_factories(extra: Iterable[str] = ()) -> list[Factory]:
    """The lean chain, outermost first: the site's ``MIDDLEWARE`` entries the lean path knows,
    then the host check, then ``extra`` (dotted paths of async-native middleware)."""
    factories = [
        _factory(path, LEAN_MIDDLEWARE[path])
        for path in settings.MIDDLEWARE
        if path in LEAN_MIDDLEWARE
    ]
    factories.append(HostCheck)
    factories += [import_string(path) for path in extra]
    return factories


def skipped_middleware() -> list[str]:
    """The site's ``MIDDLEWARE`` entries the lean path does not run."""
    return [path for path in settings.MIDDLEWARE if path not in LEAN_MIDDLEWARE]
