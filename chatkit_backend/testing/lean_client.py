"""Django's test client on the lean path: ChatKit's endpoints through the lean chain.

A site that serves ``with_chatkit(get_asgi_application())`` runs its ChatKit endpoints with
the lean middleware chain, not its ``MIDDLEWARE``; a test that goes through Django's own
``Client`` would test another path. :class:`LeanClient` is a ``django.test.Client`` whose
requests under ChatKit's prefix run the lean chain (as :class:`~chatkit_backend.asgi.
LeanASGIHandler` does) and every other request the full stack, as usual. What the test
client adds stays: ``force_login``, cookies, and no CSRF enforcement unless
``enforce_csrf_checks=True``.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.test import Client
from django.test.client import ClientHandler

from ..asgi import api_prefix
from ..asgi.handler import LeanChain


class LeanClientHandler(LeanChain, ClientHandler):
    """The test client's handler with the lean chain (run in an event loop per request)."""

    def load_middleware(self, is_async: bool = True) -> None:
        super().load_middleware(is_async=True)

    def get_response(self, request: Any) -> Any:
        return async_to_sync(self.get_response_async)(request)


class RoutingClientHandler:
    """A drop-in for ``ClientHandler``: ChatKit's paths to :class:`LeanClientHandler`, the
    others to Django's."""

    def __init__(self, enforce_csrf_checks: bool = True, *args: Any, **kwargs: Any) -> None:
        self.lean = LeanClientHandler(enforce_csrf_checks, *args, **kwargs)
        self.full = ClientHandler(enforce_csrf_checks, *args, **kwargs)

    def __call__(self, environ: dict[str, Any]) -> Any:
        lean = environ.get("PATH_INFO", "").startswith(api_prefix())
        return (self.lean if lean else self.full)(environ)


class LeanClient(Client):
    """``django.test.Client`` with ChatKit's endpoints on the lean path."""

    def __init__(self, enforce_csrf_checks: bool = False, **defaults: Any) -> None:
        super().__init__(enforce_csrf_checks, **defaults)
        self.handler = RoutingClientHandler(enforce_csrf_checks)
