"""The lean path's Django handler: Django's ASGI handler with a short, async-native chain.

What it does differently from ``django.core.asgi.get_asgi_application()``:

- the middleware chain is :func:`~chatkit_backend.asgi.chain.lean_factories`: the site's
  security middleware, run on the event loop (no thread hop per middleware);
- ``request_started`` is not sent (it costs a hop for its synchronous receivers). Django's own
  receivers of it reset the query log and close stale database connections: the store's
  work runs on its own pool of threads (:mod:`chatkit_backend.connections`), which checks
  its connections at the end of every hop, and anything else on the request's own worker
  thread (``ThreadSensitiveContext``), whose connection starts with its first query;
- ``response.close()`` (which sends ``request_finished``, whose receiver closes the request's
  database connection) runs on the request's worker thread, as Django runs it, if a
  connection was opened there; otherwise (a turn, a read of the store) it runs on the event
  loop, and ``request_finished`` receivers must not touch the database there.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.db import close_old_connections
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

from ..connections import connections_released, new_request
from .chain import lean_factories


async def close_response(response: HttpResponseBase) -> None:
    """``response.close()``, which sends ``request_finished``: Django's receiver of it closes
    the request's database connection, so it runs on that connection's thread (a hop) if
    one was opened on the request's own thread and is still open."""
    if connections_released():
        response.close()
    else:
        await sync_to_async(response.close)()


class LeanChain:
    """``load_middleware`` for the lean chain; mixed into a Django handler class."""

    extra_middleware: tuple[str, ...] = ()

    def load_middleware(self, is_async: bool = True) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]
        for factory in reversed(lean_factories(self.extra_middleware)):
            handler = convert_exception_to_response(factory(handler))
        self._middleware_chain = handler


class LeanASGIHandler(LeanChain, ASGIHandler):
    """Serves ChatKit's endpoints (see :func:`chatkit_backend.asgi.with_chatkit`)."""

    def __init__(self, extra_middleware: tuple[str, ...] = ()) -> None:
        self.extra_middleware = tuple(extra_middleware)
        super().__init__()

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        new_request()
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await close_response(error_response)
            return
        try:
            await self._serve(request, receive, send)
        finally:
            body_file.close()

    async def _serve(self, request: Any, receive: Any, send: Any) -> None:
        # As Django's handler does: a disconnect while the view runs cancels the view (a
        # closed tab stops the turn and its model run).
        async def respond() -> None:
            response = None
            try:
                response = await self.run_get_response(request)
                try:
                    await self.send_response(response, send)
                except asyncio.CancelledError:
                    pass  # the client left while we sent
            finally:
                if response is not None:
                    await close_response(response)
                else:
                    await sync_to_async(close_old_connections)()

        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        answer = asyncio.create_task(respond())
        await asyncio.wait([listener, answer], return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, answer):
            if not task.done():
                task.cancel()
            try:
                await task
            except (asyncio.CancelledError, RequestAborted):
                pass
