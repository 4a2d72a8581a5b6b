"""The lean path: ChatKit's endpoints served without a thread hop per middleware.

In the site's ``asgi.py``::

    from django.core.asgi import get_asgi_application
    from chatkit_backend.asgi import with_chatkit

    application = with_chatkit(get_asgi_application())

HTTP requests under the prefix ``chatkit_backend.urls`` is included at (``/chatkit/``: the
protocol endpoint, uploads, attachment downloads, the composer options, entities) go to a
Django handler with a short, async-native middleware chain (see :mod:`.chain` and
:mod:`.handler`); every other request, WebSocket and lifespan event goes to ``application``
unchanged. To opt out, serve ``get_asgi_application()`` unwrapped.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, reverse

from .chain import LEAN_MIDDLEWARE, skipped_middleware
from .handler import LeanASGIHandler

__all__ = [
    "LEAN_MIDDLEWARE",
    "ChatKitRouter",
    "LeanASGIHandler",
    "skipped_middleware",
    "with_chatkit",
]


NOWHERE = "\0"  # a prefix no path starts with


def api_prefix() -> str:
    """Where the site includes ``chatkit_backend.urls``, from the root: ``/chatkit/``."""
    api = reverse("chatkit_backend:api")  # "<script prefix>.../api"
    script = get_script_prefix()
    if api.startswith(script):
        api = "/" + api[len(script) :]
    return api[: -len("api")]


class ChatKitRouter:
    """An ASGI application: ChatKit's HTTP paths to the lean handler, the rest to ``app``."""

    def __init__(
        self, app: Any, *, prefix: str | None = None, extra_middleware: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.extra_middleware = tuple(extra_middleware)
        self.handler: LeanASGIHandler | None = None

    def lean(self) -> LeanASGIHandler:
        # Built on the first request, when the URL conf and settings are ready.
        if self.handler is None:
            self.handler = LeanASGIHandler(self.extra_middleware)
        return self.handler

    def routes(self, scope: dict[str, Any]) -> bool:
        """Whether ``scope`` takes the lean path."""
        if scope["type"] != "http":
            return False
        if self.prefix is None:
            try:
                self.prefix = api_prefix()
            except NoReverseMatch:
                # chatkit_backend.urls is not included: nothing takes the lean path.
                self.prefix = NOWHERE
        root = scope.get("root_path", "")
        path = scope["path"]
        if root and path.startswith(root):
            path = path[len(root) :]
        return path.startswith(self.prefix)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.routes(scope):
            await self.lean()(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def with_chatkit(
    app: Any, *, prefix: str | None = None, extra_middleware: tuple[str, ...] = ()
) -> ChatKitRouter:
    """Wrap the site's ASGI application so ChatKit's endpoints take the lean path.

    ``prefix``: the path ``chatkit_backend.urls`` is included at (found with ``reverse()``
    when not given). ``extra_middleware``: dotted paths of async-native middleware to run on
    the lean path as well (innermost), for a site that needs one of its own there.
    """
    return ChatKitRouter(app, prefix=prefix, extra_middleware=extra_middleware)
